from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.queue_error import QueueError
from ...models.queue_job_status_response import QueueJobStatusResponse
from ...types import UNSET, Response


def _get_kwargs(
    *,
    request_id: str,
    model: str,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["request_id"] = request_id

    params["model"] = model

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/queue/status",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> QueueError | QueueJobStatusResponse | None:
    if response.status_code == 200:
        response_200 = QueueJobStatusResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = QueueError.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = QueueError.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = QueueError.from_dict(response.json())

        return response_404

    if response.status_code == 429:
        response_429 = QueueError.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = QueueError.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[QueueError | QueueJobStatusResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    request_id: str,
    model: str,
) -> Response[QueueError | QueueJobStatusResponse]:
    """Get job status

     Poll the current status of a previously submitted job. Provide the request_id and model as query
    parameters.

    Args:
        request_id (str): Request ID returned from the submit endpoint
        model (str): Model name the job was submitted to

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[QueueError | QueueJobStatusResponse]
    """

    kwargs = _get_kwargs(
        request_id=request_id,
        model=model,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    request_id: str,
    model: str,
) -> QueueError | QueueJobStatusResponse | None:
    """Get job status

     Poll the current status of a previously submitted job. Provide the request_id and model as query
    parameters.

    Args:
        request_id (str): Request ID returned from the submit endpoint
        model (str): Model name the job was submitted to

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        QueueError | QueueJobStatusResponse
    """

    return sync_detailed(
        client=client,
        request_id=request_id,
        model=model,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    request_id: str,
    model: str,
) -> Response[QueueError | QueueJobStatusResponse]:
    """Get job status

     Poll the current status of a previously submitted job. Provide the request_id and model as query
    parameters.

    Args:
        request_id (str): Request ID returned from the submit endpoint
        model (str): Model name the job was submitted to

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[QueueError | QueueJobStatusResponse]
    """

    kwargs = _get_kwargs(
        request_id=request_id,
        model=model,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    request_id: str,
    model: str,
) -> QueueError | QueueJobStatusResponse | None:
    """Get job status

     Poll the current status of a previously submitted job. Provide the request_id and model as query
    parameters.

    Args:
        request_id (str): Request ID returned from the submit endpoint
        model (str): Model name the job was submitted to

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        QueueError | QueueJobStatusResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            request_id=request_id,
            model=model,
        )
    ).parsed
