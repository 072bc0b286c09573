"""Views, one module per area; each is short: fetch and authorise, validate, call a service, redirect."""
