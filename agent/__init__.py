"""hotline-uptime agent."""
