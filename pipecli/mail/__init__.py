"""E-mail: sending over SMTP (`smtp`), messages from templates (`compose`), reports as mail (`report`)."""
