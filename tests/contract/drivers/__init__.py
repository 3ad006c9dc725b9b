"""Every driver of the contract suite. A new SDK joins by adding its module and listing it here."""

from __future__ import annotations

from tests.contract.drivers import anthropic_sdk, bedrock_sdk, google_genai_sdk, litellm_sdk, openai_sdk
from tests.contract.drivers.anthropic_sdk import AnthropicMessages
from tests.contract.drivers.base import Driver
from tests.contract.drivers.bedrock_sdk import BedrockConverse, BedrockInvokeAnthropic, BedrockInvokeLlama
from tests.contract.drivers.google_genai_sdk import GeminiGenerate
from tests.contract.drivers.litellm_sdk import LiteLLMAnthropic, LiteLLMOpenAI
from tests.contract.drivers.openai_sdk import OpenAIChat, OpenAIResponses

# One driver per SDK API surface, in the SDK's default configuration: every contract test runs on these.
DRIVERS: tuple[Driver, ...] = (
    OpenAIChat(),
    OpenAIResponses(),
    AnthropicMessages(),
    BedrockConverse(),
    BedrockInvokeAnthropic(),
    BedrockInvokeLlama(),
    GeminiGenerate(),
    LiteLLMOpenAI(),
    LiteLLMAnthropic(),
)
# Configurations of a surface that change who makes the span; the termination table runs on them too.
VARIANTS: tuple[Driver, ...] = (
    AnthropicMessages(native="enrich"),
    AnthropicMessages(native="replace"),
    GeminiGenerate(transport="httpx2"),  # async on httpx2 (the default driver's async is aiohttp)
    GeminiGenerate(transport="httpx"),  # sync and async on httpx
)

__all__ = [
    "DRIVERS",
    "VARIANTS",
    "AnthropicMessages",
    "BedrockConverse",
    "BedrockInvokeAnthropic",
    "BedrockInvokeLlama",
    "Driver",
    "GeminiGenerate",
    "LiteLLMAnthropic",
    "LiteLLMOpenAI",
    "OpenAIChat",
    "OpenAIResponses",
    "anthropic_sdk",
    "bedrock_sdk",
    "google_genai_sdk",
    "litellm_sdk",
    "openai_sdk",
]
