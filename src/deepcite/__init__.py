"""deepcite: a self-hosted web research API that speaks OpenAI's Chat Completions protocol."""

__version__ = "0.1.0"
