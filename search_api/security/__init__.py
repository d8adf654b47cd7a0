"""Who may call the API and what every response carries: the token, browser sessions, headers."""
