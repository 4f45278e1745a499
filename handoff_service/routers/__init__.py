"""HTTP routers, one module per audience."""
