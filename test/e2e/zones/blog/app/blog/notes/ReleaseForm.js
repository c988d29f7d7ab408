'use client';

import { useActionState } from 'react';
import { whichRelease } from './actions';

export default function ReleaseForm() {
  const [result, formAction, pending] = useActionState(whichRelease, '');
  return (
    <form action={formAction} id="release-form">
      <label>
        Note <input name="note" id="release-input" defaultValue="" />
      </label>
      <button type="submit" id="release-submit" disabled={pending}>Send</button>
      <output id="release-result">{result}</output>
    </form>
  );
}
