"""tierwise: an LLM routing gateway that speaks OpenAI and Anthropic and routes each request to a tier."""

__version__ = "0.1.0"
