"""The user's scope as SQL: what every query over homes or alerts filters with."""

SCOPE = """(%(admin)s OR EXISTS (
    SELECT 1 FROM console_user_scopes s
    WHERE s.user_id = %(uid)s
      AND (s.home_id = h.id
           OR (s.home_id IS NULL AND s.community_id = h.community_id
               AND (s.building IS NULL OR s.building = h.building)))))"""
