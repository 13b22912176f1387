"""The example service's handlers. routes.yaml names them by dotted path."""
