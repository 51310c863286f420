"""The one conversation engine. Every entry point runs turns through these two functions:

    async for event in run_turn(conversation, user_text, options=TurnOptions(...)):
        ...  # translate `event` (conversations.engine.events) to the transport's wire format

    async for event in run_greeting(conversation, options=...):
        ...

Cancelling the consuming task (barge-in, client gone) stops the turn; the text said so far is stored
with `interrupted=True`. Tools plug in through `conversations.engine.tools`.
"""
