"""The API's routes, one module per group, nested in the ``api`` blueprint."""
