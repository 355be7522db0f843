/** The OpenAPI document at /openapi.json and Swagger UI at /docs (no database needed). */
import type { OpenAPIV3 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { deadDatabaseUrl, testApp } from '../helper.js';

const ROUTES: Record<string, string[]> = {
  '/health': ['get'],
  '/ready': ['get'],
  '/metrics': ['get'],
  '/v1/status': ['get'],
  '/v1/tables': ['get'],
  '/v1/tables/{table}': ['get'],
  '/v1/resync': ['get', 'post'],
  '/v1/resync/{id}': ['delete', 'get'],
  '/v1/prune': ['get', 'post'],
  '/v1/prune/{id}': ['get'],
  '/v1/verify': ['get'],
};
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Every "$ref" in a JSON value. */
function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') found.push(v);
      else refs(v, found);
    }
  }
  return found;
}

describe('OpenAPI document', () => {
  let app: App;
  let doc: OpenAPIV3.Document;

  beforeAll(async () => {
    app = await testApp(await deadDatabaseUrl());
    const res = await app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = JSON.parse(res.body) as OpenAPIV3.Document;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is OpenAPI 3 with info and the bearer scheme', () => {
    expect(doc.openapi).toMatch(/^3\.0\.\d$/);
    expect(doc.info.title).toBe('elt API');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.components?.securitySchemes?.bearerAuth).toEqual({
      type: 'http',
      scheme: 'bearer',
      description: 'ELT_API_TOKEN',
    });
  });

  it('lists every route with its methods, and nothing else', () => {
    const listed = Object.fromEntries(
      Object.entries(doc.paths).map(([path, item]) => [path, METHODS.filter((m) => item?.[m] !== undefined).sort()]),
    );
    expect(listed).toEqual(ROUTES);
  });

  it('every operation has a summary, a tag and responses; every $ref resolves', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const op = item?.[method];
        if (!op) continue;
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(op.tags?.length, `${method} ${path}`).toBe(1);
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
    const schemas = doc.components?.schemas ?? {};
    for (const ref of refs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    }
  });

  it('mutations require the bearer token and document their errors; reads are open by default', () => {
    for (const op of [doc.paths['/v1/resync']?.post, doc.paths['/v1/resync/{id}']?.delete]) {
      expect(op?.security).toEqual([{ bearerAuth: [] }]);
      expect(Object.keys(op?.responses ?? {})).toEqual(
        expect.arrayContaining(['400', '401', '403', '404', '409', '503']),
      );
    }
    expect(doc.paths['/v1/status']?.get?.security).toBeUndefined();
  });

  it('the request body and parameters come from the zod schemas', () => {
    const body = doc.paths['/v1/resync']?.post?.requestBody as OpenAPIV3.RequestBodyObject;
    const ref = (body.content['application/json']?.schema as OpenAPIV3.ReferenceObject).$ref;
    const schema = doc.components?.schemas?.[ref.replace('#/components/schemas/', '')] as OpenAPIV3.SchemaObject;
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(['all', 'requested_by', 'tables']);
    expect(schema.additionalProperties).toBe(false);
    const idParam = doc.paths['/v1/resync/{id}']?.get?.parameters?.[0] as OpenAPIV3.ParameterObject;
    expect(idParam).toMatchObject({ in: 'path', name: 'id', required: true });
    const tableParam = doc.paths['/v1/tables/{table}']?.get?.parameters?.[0] as OpenAPIV3.ParameterObject;
    expect(tableParam).toMatchObject({
      in: 'path',
      name: 'table',
      required: true,
      schema: { type: 'string', maxLength: 300 },
    });
  });

  it('Swagger UI is served at /docs', async () => {
    const res = await app.inject('/docs');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('swagger');
    const json = await app.inject('/docs/json');
    expect(json.json().paths).toEqual(doc.paths);
  });

  it('with reads behind the token, the document says so on GET routes too', async () => {
    const closed = await testApp(await deadDatabaseUrl(), { readsNeedToken: true });
    try {
      const closedDoc = (await closed.inject('/openapi.json')).json<OpenAPIV3.Document>();
      expect(closedDoc.paths['/v1/status']?.get?.security).toEqual([{ bearerAuth: [] }]);
      expect(closedDoc.paths['/health']?.get?.security).toBeUndefined();
    } finally {
      await closed.close();
    }
  });
});
