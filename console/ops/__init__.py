"""The console's actions by area, each declared once (console.action) with how its page and
its API endpoint answer."""
