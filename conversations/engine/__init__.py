"""The one conversation engine. Every entry point runs turns through these two functions:

    async with contextlib.aclosing(run_turn(conversation, user_text, options=TurnOptions(...))) as events:
        async for event in events:
            ...  # translate `event` (conversations.engine.events) to the transport's wire format

    run_greeting(conversation, options=...)  # same shape

Cancelling the consuming task or closing the generator (barge-in, client gone) stops the turn; the
text said so far is stored with `interrupted=True`. Tools plug in through `conversations.engine.tools`.
"""

from conversations.engine.turn import TurnOptions, run_greeting, run_turn

__all__ = ["TurnOptions", "run_greeting", "run_turn"]
