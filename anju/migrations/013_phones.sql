-- Phone numbers for the people on duty to call from an alert's page: the resident's
-- own, and each contact's (apprise URLs carry an SMS gateway's number, if any, not
-- a number a person dials). Both optional; the console shows them as tel: links.
-- `has_key`: this contact holds a key to the home (a neighbour, a relative nearby);
-- without one, the property contact is the one asked to open the door.
ALTER TABLE homes ADD COLUMN IF NOT EXISTS phone text;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS phone text;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS has_key boolean NOT NULL DEFAULT false;
