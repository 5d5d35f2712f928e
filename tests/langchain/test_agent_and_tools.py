"""IndoxImageTool on its own and in an agent loop with a tool-calling ChatIndox."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage

from indox_server import LocalServer
from langchain_indox import ChatIndox, IndoxImageTool


def run_agent(llm: ChatIndox, tools: list[IndoxImageTool], question: str) -> tuple[str, list[ToolMessage]]:
    """The classic LangChain tool loop: call the model, run the tools it asks for, repeat."""
    bound = llm.bind_tools(tools)
    by_name = {tool.name: tool for tool in tools}
    messages: list = [HumanMessage(question)]
    results: list[ToolMessage] = []
    for _ in range(5):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return str(reply.content), results
        for call in reply.tool_calls:
            result = by_name[call["name"]].invoke(call)
            results.append(result)
            messages.append(result)
    raise AssertionError("the agent did not finish")


def test_agent_calls_the_image_tool_and_answers(server: LocalServer, tmp_path: Path) -> None:
    llm = ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)
    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="64x64",
                          image_format="b64_json", output_dir=str(tmp_path))
    answer, results = run_agent(llm, [tool], "Please draw a picture of a lighthouse at dusk.")
    (result,) = results
    path = Path(str(result.content))
    assert path.is_absolute() and path.parent == tmp_path and path.read_bytes()[:4] == b"\x89PNG"
    assert "lighthouse-at-dusk" in path.name
    assert answer == f"generate_image returned: {path}."


def test_langchain_create_agent_uses_the_tool(server: LocalServer, tmp_path: Path) -> None:
    from langchain.agents import create_agent

    llm = ChatIndox(model="openai/gpt-4o-mini", api_key=server.api_key, base_url=server.base_url)
    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="32x32",
                          image_format="b64_json", output_dir=str(tmp_path))
    agent = create_agent(llm, tools=[tool])
    state = agent.invoke({"messages": [{"role": "user", "content": "Please draw a picture of a castle on a hill."}]})
    kinds = [type(m).__name__ for m in state["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    (png,) = tmp_path.glob("*.png")
    assert state["messages"][2].content == str(png) and png.read_bytes()[:4] == b"\x89PNG"
    assert state["messages"][-1].content == f"generate_image returned: {png}."


def test_url_format_returns_the_url(server: LocalServer) -> None:
    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="32x32")
    url = tool.invoke({"prompt": "a blue circle"})
    assert url.startswith(server.api_root + "/files/images/")


def test_several_images_one_per_line_and_size_argument(server: LocalServer, tmp_path: Path) -> None:
    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, n=2, image_format="b64_json",
                          output_dir=str(tmp_path))
    paths = tool.invoke({"prompt": "two cats", "size": "16x8"}).splitlines()
    assert len(paths) == 2 and all(Path(p).exists() for p in paths)
    assert Path(paths[0]).read_bytes()[16:24] == (16).to_bytes(4, "big") + (8).to_bytes(4, "big")


def test_content_and_artifact_carries_the_image(server: LocalServer, tmp_path: Path) -> None:
    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="16x16", image_format="b64_json",
                          response_format="content_and_artifact", output_dir=str(tmp_path))
    message = tool.invoke({"type": "tool_call", "id": "call_1", "name": tool.name,
                           "args": {"prompt": "a green triangle"}})
    assert isinstance(message, ToolMessage) and Path(str(message.content)).exists()
    (block,) = message.artifact
    assert block["type"] == "image" and base64.b64decode(block["base64"])[:4] == b"\x89PNG"


def test_content_and_artifact_with_urls(server: LocalServer, tmp_path: Path) -> None:
    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="16x16",
                          response_format="content_and_artifact", output_dir=str(tmp_path))
    message = tool.invoke({"type": "tool_call", "id": "call_1", "name": tool.name, "args": {"prompt": "a star"}})
    assert message.artifact == [{"type": "image", "url": message.content}]
    assert str(message.content).startswith(server.api_root + "/files/images/") and not list(tmp_path.iterdir())


def test_image_format_and_response_format_are_separate() -> None:
    tool = IndoxImageTool(api_key="k")
    assert (tool.image_format, tool.response_format) == ("url", "content")
    with pytest.raises(ValueError):
        IndoxImageTool(api_key="k", image_format="png")
    with pytest.raises(ValueError):
        IndoxImageTool(api_key="k", response_format="png")


def test_old_response_format_values_still_mean_image_format() -> None:
    with pytest.warns(DeprecationWarning, match="image_format"):
        tool = IndoxImageTool(api_key="k", response_format="b64_json")
    assert (tool.image_format, tool.response_format) == ("b64_json", "content")


async def test_async_tool(server: LocalServer) -> None:
    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="16x16")
    assert (await tool.ainvoke({"prompt": "a moon"})).startswith("http")


def test_tool_schema_and_description_for_agents() -> None:
    tool = IndoxImageTool(api_key="k")
    schema = tool.tool_call_schema.model_json_schema()
    assert set(schema["properties"]) == {"prompt", "size"} and schema["required"] == ["prompt"]
    assert "image" in tool.description and len(tool.description) < 1024


def test_bad_size_is_reported(server: LocalServer) -> None:
    from shared_client import InvalidParametersError

    tool = IndoxImageTool(api_key=server.api_key, base_url=server.base_url)
    with pytest.raises(InvalidParametersError):
        tool.invoke({"prompt": "x", "size": "huge"})


def test_both_image_tools_are_one_design(server: LocalServer) -> None:
    """The same fields and defaults in both frameworks, and base64 images in a temporary folder
    (never the working directory) unless output_dir is given."""
    from llamaindex_indox import IndoxImageToolSpec

    lc = IndoxImageTool(api_key=server.api_key, base_url=server.base_url, size="16x16", image_format="b64_json")
    li = IndoxImageToolSpec(api_key=server.api_key, base_url=server.base_url, size="16x16", image_format="b64_json")
    defaults = (IndoxImageTool(api_key="k"), IndoxImageToolSpec(api_key="k"))
    assert [(d.model, d.size, d.n, d.image_format, d.output_dir) for d in defaults] == [
        ("openai/dall-e-3", "1024x1024", 1, "url", None)] * 2
    saved = [Path(lc.invoke({"prompt": "a lamp"})), Path(str(li.generate_image("a lamp")))]
    for path in saved:
        assert path.is_absolute() and path.read_bytes()[:4] == b"\x89PNG"
        assert Path.cwd() not in path.parents and path.parent.name.startswith("indox-images-")
    assert saved[0].parent == saved[1].parent
