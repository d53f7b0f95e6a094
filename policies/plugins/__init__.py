"""The built-in plugins, one module each. Profiles (policies/profiles.py) map their names to these classes."""
