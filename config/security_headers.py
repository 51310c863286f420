"""Content-Security-Policy on every HTML answer: django-csp's middleware plus per-path allowances.

One strict policy (settings.CONTENT_SECURITY_POLICY: scripts and styles from our own origin only,
sockets to our own host) for the Studio and the admin. A path prefix in
settings.VOICEBOT_CSP_PATH_UPDATES adds sources to named directives there, for pages that need more
(the widget demo under /public/ uses <style> blocks); django-csp's decorators would do the same per
view, but the allowance then lives far from the policy it loosens.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        path = request.path_info
        for prefix, additions in getattr(settings, "VOICEBOT_CSP_PATH_UPDATES", {}).items():
            if path.startswith(prefix):
                update = dict(parts.update or {})
                for directive, sources in additions.items():
                    update[directive] = [*update.get(directive, []), *sources]
                parts.update = update
        return parts
