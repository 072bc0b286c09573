"""Forms, one module per area: parse and validate input; crispy FormHelpers set the layout."""
