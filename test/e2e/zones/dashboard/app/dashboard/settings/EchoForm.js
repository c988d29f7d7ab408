'use client';

import { useActionState } from 'react';
import { echo } from './actions';

export default function EchoForm() {
  const [result, formAction, pending] = useActionState(echo, '');
  return (
    <form action={formAction} id="echo-form">
      <label>
        Value <input name="value" id="echo-input" defaultValue="" />
      </label>
      <button type="submit" id="echo-submit" disabled={pending}>Echo</button>
      <output id="echo-result" data-testid="echo-result">{result}</output>
    </form>
  );
}
