"""Small leaves used on several floors: bounded file reads, URLs with their secrets cut, exit statuses."""
