"""The brand dashboard: admin pages over the domains' services, and its CSV exports."""
