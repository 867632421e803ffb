"""What every answer carries: security headers, cookie flags, and the proxy's forwarded scheme."""

from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: pages load /static only, and no site may frame them.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def add_security_headers(response):
    """Set the security headers on ``response``; HSTS only when the request came over HTTPS."""
    from flask import request

    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app):
    """Trust X-Forwarded-* only behind a configured proxy; add the headers to every answer."""
    if app.config["PROXY_FIX"]:
        # One proxy in front: its X-Forwarded-For and -Proto are believed, nothing deeper.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.after_request(add_security_headers)
