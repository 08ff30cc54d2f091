"""Cookie headers that carry the canary cookie and ones that only look as if they did."""

from __future__ import annotations

# Cookie headers as browsers send them: pairs joined by "; " (RFC 6265 section 5.4).
CARRIES_THE_COOKIE = [
    "version=v2",
    "version=v2; _ga=GA1.2.1234567890.1700000000",
    "_ga=GA1.2.1234567890.1700000000; version=v2",
    "_ga=GA1.2.1234567890.1700000000; version=v2; theme=dark",
    "session=eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo; version=v2",
    "token=abc==; version=v2; consent=yes",
    "a=b;version=v2",  # clients that join without the space
    "a=b;  version=v2 ; c=d",  # and clients that pad
]


DOES_NOT_CARRY_IT = [
    "",
    "version=v1",
    "myversion=v2",
    "_ga=GA1.2.1; myversion=v2",
    "version=v20",
    "version=v2x",
    "version=v2x; theme=dark",
    "theme=dark; version=v20",
    "a=version=v2",  # the cookie `a` whose value merely contains the text
    "version_=v2; xversion=v2",
    "version=v1; myversion=v2; version=v20",
]
