"""Every SQL statement the console runs, by what it reads or writes.

Queries that touch homes or alerts take the signed-in user's scope through
two named parameters, %(admin)s and %(uid)s, and filter with scope.SCOPE (on
the homes alias `h`): the database never returns a row the user may not see.
"""
