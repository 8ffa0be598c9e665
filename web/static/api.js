// api.js is the app's only way to the server: same-origin fetch with the
// session cookie, the CSRF token on unsafe methods, and JSON errors turned
// into ApiError so screens can show the message next to the field.
import { t } from './strings.js';

let csrf = '';

// setCsrf records the token from the session answer (POST/GET /v1/session).
export function setCsrf(token) {
	csrf = token || '';
}

export class ApiError extends Error {
	constructor(status, code, message, field, retryAfter) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
		this.field = field || '';
		this.retryAfter = retryAfter; // seconds, from Retry-After, or undefined
	}
}

const unsafe = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// request sends method path with body (an object is sent as JSON; a
// string, Blob or FormData as is with opts.type) and answers the parsed
// JSON, the text for non-JSON answers, or null for 204. opts.headers adds
// headers; opts.raw answers the Response itself.
export async function request(method, path, body, opts = {}) {
	const headers = { Accept: 'application/json', ...(opts.headers || {}) };
	if (unsafe.has(method) && csrf) headers['X-CSRF-Token'] = csrf;
	let payload;
	if (body !== undefined && body !== null) {
		if (typeof body === 'string' || body instanceof Blob || body instanceof FormData) {
			payload = body;
			if (opts.type) headers['Content-Type'] = opts.type;
		} else {
			payload = JSON.stringify(body);
			headers['Content-Type'] = 'application/json';
		}
	}
	let res;
	try {
		res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
	} catch (e) {
		throw new ApiError(0, 'network', t('error.network'), '');
	}
	if (!res.ok) throw await toError(res, path);
	if (opts.raw) return res;
	if (res.status === 204) return null;
	const ct = res.headers.get('Content-Type') || '';
	if (ct.includes('json')) return res.json();
	return res.text();
}

async function toError(res, path) {
	let code = '', message = '', field = '';
	try {
		const body = await res.json();
		if (body && body.error) ({ code = '', message = '', field = '' } = body.error);
	} catch (e) { /* not JSON */ }
	const ra = res.headers.get('Retry-After');
	const retryAfter = ra && /^\d+$/.test(ra) ? Number(ra) : undefined;
	if (!message) message = t('error.status', { status: res.status });
	const err = new ApiError(res.status, code || String(res.status), message, field, retryAfter);
	// A cookie that expired or was revoked: the app goes back to sign-in.
	if (res.status === 401 && !path.startsWith('/v1/session')) {
		window.dispatchEvent(new CustomEvent('sb:unauthenticated'));
	}
	return err;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

// enc encodes one path segment (contact IDs hold ':' and '@').
export const enc = encodeURIComponent;

// query builds "?a=1&b=2" from an object, repeating array values and
// leaving out empty ones.
export function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v === undefined || v === null || v === '') continue;
		if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
		else q.append(k, String(v));
	}
	const s = q.toString();
	return s ? '?' + s : '';
}
