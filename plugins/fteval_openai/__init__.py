"""OpenAI fine-tuning and chat-completion plugins (trainer ``openai``, generator ``openai``).

They speak the OpenAI HTTP API through the official client, so they work against api.openai.com,
any OpenAI-compatible endpoint (vLLM, Ollama, TGI) via ``model.base_url``, and ``fteval serve``
(``fteval_openai.server``), which implements the same protocol on 127.0.0.1 with local training.
Importing this package loads neither ``openai`` nor ``tiktoken``.
"""
