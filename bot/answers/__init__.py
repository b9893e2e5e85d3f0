"""Answer composers, one module per kind of answer; each returns a `bot.types.Reply`."""
