/**
 * Asks for a run while the replica's engine is away, and checks it is refused at once: 503 within
 * a second, with Retry-After. Returns the error message for the caller to check further.
 */
export async function expectRefusedAtOnce(url: string, image: string): Promise<string> {
  const startedAt = Date.now();
  const response = await fetch(`${url}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image, main: 'echo hi' }),
  });

  expect(Date.now() - startedAt).toBeLessThan(1000);
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('1');
  return ((await response.json()) as { error: string }).error;
}
