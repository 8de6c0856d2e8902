"""The web page for users and the staff inspection pages: templates, static files, views."""
