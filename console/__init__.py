"""Staff console: PAKN inbox, replies, plan duties and dashboard for office staff (server-rendered, Vietnamese).

`console.routes.router` is included by `api.main.create_app()`; tables live in `console.models`
(migration 0002_console); `console.reminders.send_due_soon` is the daily duty reminder.
"""
