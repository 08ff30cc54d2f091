"""The rollout's report as one self-contained HTML page: layout (html), charts, SVG, style (report.css)."""
