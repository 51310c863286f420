"""Phone calls: Twilio Media Streams as one more thin transport on the conversation session."""
