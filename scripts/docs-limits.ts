/** Writes the limits table of lib/limits.ts into docs/limits.md, between its markers. */
import * as fs from 'fs';
import * as path from 'path';
import { withLimitsTable } from '../lib/limits-doc';

const pagePath = path.join(__dirname, '..', 'docs', 'limits.md');
fs.writeFileSync(pagePath, withLimitsTable(fs.readFileSync(pagePath, 'utf8')));
