"""hotline-uptime collector."""
