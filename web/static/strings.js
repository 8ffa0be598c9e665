// strings.js holds every string the app shows, in English, keyed for
// translation. t('key', {name: 'Ann'}) fills {name} placeholders; an unknown
// key shows as itself so a missing string is visible, not blank.
export const strings = {
	'app.name': 'Switchboard',
	'app.loading': 'Loading…',
	'app.skip': 'Skip to content',

	'nav.label': 'Main',
	'nav.contacts': 'Contacts',
	'nav.board': 'Team',
	'nav.me': 'Me',
	'nav.admin': 'Admin',
	'nav.signout': 'Sign out',
	'nav.signedInAs': 'Signed in as {name}',
	'nav.missed': '{n} missed',
	'nav.missedLabel': '{n} missed calls',

	'live.connecting': 'Connecting to live updates…',
	'live.offline': 'Live updates lost; reconnecting in {s} s.',
	'live.revoked': 'Your session ended. Please sign in again.',

	'error.network': 'The server cannot be reached. Check the connection and try again.',
	'error.status': 'The server answered with an error ({status}).',
	'error.session': 'Could not check your session: {message}',
	'error.notFound': 'This page does not exist.',
	'toast.dismiss': 'Dismiss',

	'signin.title': 'Sign in to Switchboard',
	'signin.intro': 'Use your extension and domain, such as 201@example.com, and your web password.',
	'signin.user': 'Extension@domain',
	'signin.password': 'Password',
	'signin.submit': 'Sign in',
	'signin.busy': 'Signing in…',
	'signin.wrong': 'Wrong extension or password.',
	'signin.throttled': 'Too many attempts. Try again in {s} seconds.',
	'signin.throttledLater': 'Too many attempts. Try again later.',
	'signin.userMissing': 'Enter your extension and domain, such as 201@example.com.',
	'signin.userInvalid': 'Write it as extension@domain, such as 201@example.com.',
	'signin.passwordMissing': 'Enter your password.',
	'signin.signedOut': 'You are signed out.',
	'signin.expired': 'Your session ended. Please sign in again.',

	'common.close': 'Close',
	'common.cancel': 'Cancel',
	'common.save': 'Save',
	'common.saving': 'Saving…',
	'common.delete': 'Delete',
	'common.edit': 'Edit',
	'common.retry': 'Try again',
	'common.none': '—',
	'common.required': '{label} (required)',

	'status.available': 'Available',
	'status.away': 'Away',
	'status.dnd': 'Do not disturb',
	'status.lunch': 'Lunch',
	'status.business_trip': 'Business trip',
	'status.unavailable': 'Unavailable',
	'status.meeting': 'In a meeting',
	'status.offline': 'Offline',

	'line.offline': 'Offline',
	'line.idle': 'Idle',
	'line.ringing': 'Ringing',
	'line.in_call': 'In a call',
	'line.on_hold': 'On hold',

	// --- board & admin --- (web-board's strings go below this line)
	'page.board': 'Team board',
	'page.admin': 'Administration',
};

export function t(key, vars) {
	let s = strings[key];
	if (s === undefined) {
		console.warn('strings: no string for', key);
		return key;
	}
	if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
	return s;
}
