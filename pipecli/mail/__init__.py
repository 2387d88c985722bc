"""E-mail: reading mail into activities (`sources`, `match`, `sync`, `status`), sending over SMTP (`smtp`),
messages from templates (`compose`), reports as mail (`report`)."""
