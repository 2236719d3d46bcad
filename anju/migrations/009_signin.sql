-- Sign-in throttling (console/auth.py): delays that grow with the failures for
-- one user name from one address, and for one address over all user names.
-- An attempt refused while a delay runs is kept, marked refused, and does not
-- count as a failure (so waiting out the delay is always enough).
ALTER TABLE console_login_attempts ADD COLUMN refused boolean NOT NULL DEFAULT false;
CREATE INDEX console_login_attempts_pair ON console_login_attempts (username, remote, at);
