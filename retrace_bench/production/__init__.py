"""production: an app under load, plain against recorded and the APM agents."""
