"""The API's contract: request fields and parameter sets, response schemas and the OpenAPI
document."""
