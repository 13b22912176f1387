"""routes.yaml -> a ready ``Application``: YAML with positions, the schema, loading, resolving.

``yamldoc`` reads the text keeping each value's file:line:col; ``schema`` is the
pydantic model of the file; ``loader`` validates it into a ``Spec``; ``project``
imports every handler (``resolve``) and builds the application.
"""
