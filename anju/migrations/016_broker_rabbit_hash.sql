-- The same device credential in RabbitMQ's own hash format, for the clustered broker
-- (`anju broker sync --rabbitmq`, anju/rabbitmq_users.py): RabbitMQ checks passwords only
-- against its rabbit_password_hashing_sha256 (a salted SHA-256), never against the
-- PBKDF2 hash Mosquitto reads. anju generates every device password (144 random bits),
-- so a fast hash of it is not open to guessing. NULL for devices provisioned before:
-- they keep working on Mosquitto; on RabbitMQ they need new credentials.
ALTER TABLE broker_users ADD COLUMN rabbit_hash text;
