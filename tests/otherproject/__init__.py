"""A stranger's Django project that adds the realtime app exactly as the README says
("Add realtime to your own project"); tests/integration/test_other_project.py serves it."""
