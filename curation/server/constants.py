"""Names shared by the stack manager and the processes it launches (kept import-light)."""

ENGINE_NAME = "elasticsearch-compat"  # the search engine name `search_compat` registers in argilla-server
OWNER_PASSWORD_ENV = "CURATE_OWNER_PASSWORD"
OWNER_API_KEY_ENV = "CURATE_OWNER_API_KEY"
