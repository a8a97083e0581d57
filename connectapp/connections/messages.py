"""What the services say about a link, in words: event details, `last_error` and the reasons
shown to people and operators. Plain strings in one place, so they read alike and can be
marked for translation together. `{placeholders}` are filled with `str.format`, never with a
provider's text unless it went through `connectapp.redaction.provider_text` first.
"""

#: A worker's refresh broke for a reason that is not the provider's (a bug, a key removed).
REFRESH_BROKE = "the refresh failed unexpectedly ({kind}); see the log"
#: A refresh or a verification answered for an account other than the link's.
ANOTHER_ACCOUNT = (
    "{provider} answered for another account than this link's; the link was left as it was "
    "(its tokens, id and name unchanged). Check the account at {provider}, then reconnect it."
)
