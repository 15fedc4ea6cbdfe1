"""The web layer: routes and pages that compose several domains.

The domains keep to their own rules (the commons and talent never import each other); what a page
shows from both is put together here, above them. ``baton.app`` includes this layer's routers.
"""
