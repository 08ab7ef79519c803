"""The arena: endpoints, matches, scoring and storage. Never imports gradio."""
