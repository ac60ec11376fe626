// GraphiQL that works offline: the page and everything it loads come from this server (no CDN),
// a reload of a URL carrying a query shows GraphiQL again, and subscriptions run over SSE with
// the API key from the headers pane, sent the way GraphiQL sends it.
import { renderGraphiQL as cdnGraphiQL } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { VariablesOf } from '../src/graphql/typed.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { ADMIN_KEY, startApp, testConfig, textOf, waitFor } from './support/app.ts';
import { CommandStatusChanged } from './support/documents.ts';

let app: App;
let off: App;
beforeAll(async () => {
  [app, off] = await Promise.all([startApp(), startApp({ graphql: { ...testConfig().graphql, graphiql: false } })]);
});
afterAll(async () => {
  await Promise.all([app?.stop(), off?.stop()]);
});

/** What a page makes the browser load: src/href attributes, CSS url() and @import, outside inline scripts. */
function references(html: string): string[] {
  const markup = html.replace(/(<script\b[^>]*>)[\s\S]*?<\/script>/gi, '$1</script>');
  const found: string[] = [];
  for (const m of markup.matchAll(/\s(?:src|href|srcset|poster|data)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    found.push(m[1] ?? m[2] ?? m[3]!);
  }
  for (const m of markup.matchAll(/url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]/gi)) found.push(m[1] ?? m[2]!);
  return found;
}

const external = (refs: string[]) => refs.filter((r) => /^(https?:)?\/\//i.test(r.trim()));

describe('GraphiQL', () => {
  it('is served whole by this server: nothing it references comes from another host', async () => {
    const res = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('YogaGraphiQL.renderYogaGraphiQL');
    // The checker finds the CDN references of yoga's stock page (so it can fail)…
    expect(external(references(cdnGraphiQL({})))).not.toEqual([]);
    // …and ours has none; what it does reference (the favicon) is inline or served here.
    const refs = references(html);
    expect(external(refs)).toEqual([]);
    for (const ref of refs.filter((r) => !r.startsWith('data:') && !r.startsWith('#'))) {
      expect((await fetch(new URL(ref, `${app.url}/graphql`))).status, ref).toBe(200);
    }
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs/);
    // Subscriptions over SSE (the headers pane goes with every request), not graphql-ws.
    expect(html).toContain('"subscriptionsProtocol":"GRAPHQL_SSE"');
  });

  it('renders again on reload of a URL with a query, instead of a JSON 400', async () => {
    const query = encodeURIComponent(textOf(CommandStatusChanged));
    for (const path of [`/graphql?query=${query}`, `/graphql?query=${query}&variables=%7B%7D&operationName=x`]) {
      const res = await fetch(`${app.url}${path}`, {
        headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
      });
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain('YogaGraphiQL.renderYogaGraphiQL');
    }
  });

  it('stays off when turned off, also for a URL with a query', async () => {
    const page = await fetch(`${off.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toContain('YogaGraphiQL');
    const withQuery = await fetch(`${off.url}/graphql?query=%7B__typename%7D`, { headers: { accept: 'text/html' } });
    expect(withQuery.status).toBe(400);
    expect(await withQuery.text()).not.toContain('YogaGraphiQL');
  });

  it("runs a subscription over SSE the way GraphiQL sends it: GET, Accept: text/event-stream, the headers pane's key", async () => {
    const fx = await createEndpoint(app);
    const variables: VariablesOf<typeof CommandStatusChanged> = { endpointId: fx.endpointId };
    const query = encodeURIComponent(textOf(CommandStatusChanged));
    const url = `${app.url}/graphql?query=${query}&variables=${encodeURIComponent(JSON.stringify(variables))}`;
    const abort = new AbortController();
    const res = await fetch(url, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${ADMIN_KEY}` },
      signal: abort.signal,
    });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      let text = '';
      const reading = (async () => {
        const decoder = new TextDecoder();
        const reader = res.body!.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value, { stream: true });
      })().catch(() => {});
      // The stream opens before the subscription listens: invoke until an event comes through.
      const ids: string[] = [];
      await waitFor(
        async () => {
          if (ids.some((id) => text.includes(`"id":"${id}"`))) return true;
          ids.push((await invokeCommand(app, fx.endpointId, 'reboot')).id);
          await new Promise((r) => setTimeout(r, 100));
          return ids.some((id) => text.includes(`"id":"${id}"`));
        },
        10_000,
        () => text,
      );
      expect(text).toMatch(/"commandStatusChanged":\{"id":"\d+",[^{}]*"status":"PENDING"/);
      abort.abort();
      await reading;
    } finally {
      abort.abort();
    }

    const anonymous = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(anonymous.status).toBe(400);
    await anonymous.body?.cancel();
  });
});
