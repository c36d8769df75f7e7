import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AsciicastEvent } from '../../src/sessions/asciicast.ts';
import {
  createCommandTracker,
  execCommand,
  extractCommands,
  type SessionCommand,
} from '../../src/sessions/commands.ts';

const PROMPT = 'alice@db01:~$ ';
const BS = '\b';
const EL = '\x1b[K';

/** A recorded shell session, built the way bash's readline echoes keys. */
function shell(width = 80) {
  const events: AsciicastEvent[] = [];
  let time = 0;
  const out = (data: string) => {
    time += 0.01;
    events.push({ time: round(time), code: 'o', data });
  };
  const key = (data: string) => {
    time += 0.1;
    events.push({ time: round(time), code: 'i', data });
  };
  return {
    events,
    header: { width },
    out,
    key,
    now: () => round(time),
    prompt: () => out(PROMPT),
    /** Printable keys, each echoed. */
    type(text: string) {
      for (const char of text) {
        key(char);
        out(char);
      }
    },
    /** Keys typed with the terminal's echo off: nothing comes back. */
    typeBlind(text: string) {
      for (const char of text) key(char);
    },
    enter() {
      key('\r');
      out('\r\n');
    },
    commands(): SessionCommand[] {
      return extractCommands({ width }, events);
    },
  };
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

const texts = (commands: readonly SessionCommand[]) => commands.map((c) => c.command);

describe('commands: what was typed, confirmed by the echo', () => {
  it('reads a typed command with its time and source', () => {
    const s = shell();
    s.prompt();
    s.type('ls -la /var/log');
    s.enter();
    const enterAt = s.events.at(-2)?.time;
    s.out('total 0\r\n');
    s.prompt();
    assert.deepEqual(s.commands(), [
      { time: enterAt, command: 'ls -la /var/log', source: 'input' },
    ]);
  });

  it('applies backspace, DEL and BS alike', () => {
    const s = shell();
    s.prompt();
    s.type('lss');
    s.key('\x7f');
    s.out(BS + EL);
    s.type(' -l');
    s.key('\b');
    s.out(BS + EL);
    s.type('a');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['ls -a']);
  });

  it('applies Ctrl-U and Ctrl-W', () => {
    const s = shell();
    s.prompt();
    s.type('rm -rf /srv/data');
    s.key('\x15');
    s.out(BS.repeat(16) + EL);
    s.type('git commit wrongword');
    s.key('\x17');
    s.out(BS.repeat(9) + EL);
    s.type('-m fix');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['git commit -m fix']);
  });

  it('follows the cursor: left, right, Home, End, Delete and insertion mid-line', () => {
    const s = shell();
    s.prompt();
    s.type('ech world');
    s.key('\x1b[D');
    s.out(BS);
    s.key('\x1b[D');
    s.out(BS);
    s.key('\x1b[D');
    s.out(BS);
    s.key('\x1b[D');
    s.out(BS);
    s.key('\x1b[D');
    s.out(BS);
    s.key('\x1b[D'); // cursor after "ech"
    s.out(BS);
    s.key('o');
    s.out(`o world${BS.repeat(6)}`);
    s.key('\x1b[H'); // Home: readline redraws from the start of the line
    s.out(`\r${PROMPT}`);
    s.key('\x1b[3~'); // Delete the "e"
    s.out('\x1b[P');
    s.key('e');
    s.out(`echo world${BS.repeat(9)}`);
    s.key('\x1b[F'); // End
    s.out('\x1b[9C');
    s.type('!');
    s.key('\x1bOD'); // left, in application cursor mode
    s.out(BS);
    s.key('\x1b[3~');
    s.out('\x1b[P');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['echo world']);
  });

  it('drops a line abandoned with Ctrl-C and an empty Ctrl-D', () => {
    const s = shell();
    s.prompt();
    s.type('rm -rf /');
    s.key('\x03');
    s.out('^C\r\n');
    s.prompt();
    s.type('uptime');
    s.enter();
    s.prompt();
    s.key('\x04');
    assert.deepEqual(texts(s.commands()), ['uptime']);
  });

  it('counts CR LF as one Enter, and LF alone as Enter', () => {
    const s = shell();
    s.prompt();
    s.type('whoami');
    s.key('\r\n');
    s.out('\r\nalice\r\n');
    s.prompt();
    s.type('id');
    s.key('\n');
    s.out('\r\nuid=1000(alice)\r\n');
    s.prompt();
    assert.deepEqual(texts(s.commands()), ['whoami', 'id']);
  });

  it('takes a bracketed paste as typed text', () => {
    const s = shell();
    s.prompt();
    s.key('\x1b[200~echo pasted\ttab\x1b[201~');
    s.out('echo pasted\ttab');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['echo pasted\ttab']);
  });

  it('reads a command wrapped over several rows of a narrow terminal', () => {
    const s = shell(20);
    s.prompt(); // 14 columns of prompt leave 6 on the first row
    s.type('tail -n 100 /var/log/syslog');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['tail -n 100 /var/log/syslog']);
  });

  it('reads a command typed ahead while the previous one ran', () => {
    const s = shell();
    s.prompt();
    s.type('sleep 2');
    s.enter();
    s.key('pwd\r'); // the terminal, still in cooked mode, echoes it on its own line
    s.out('pwd\r\n');
    s.prompt();
    s.out('pwd\r\n/home/alice\r\n');
    s.prompt();
    assert.deepEqual(texts(s.commands()), ['sleep 2', 'pwd']);
  });

  it('keeps a command when zsh leaves its right prompt on the line', () => {
    const s = shell();
    s.out('% \x1b7\x1b[72G[10:32]\x1b8');
    s.type('make test');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['make test']);
  });
});

describe('commands: lines the keys alone do not tell', () => {
  it('reads a history recall off the screen', () => {
    const s = shell();
    s.prompt();
    s.key('\x1b[A');
    s.out('systemctl restart nginx');
    s.key('\x1b[A');
    s.out(`${BS.repeat(23)}df -h${EL}`);
    s.enter();
    assert.deepEqual(s.commands(), [
      { time: s.events.at(-2)?.time, command: 'df -h', source: 'screen' },
    ]);
  });

  it('reads a tab completion off the screen, also after a list of candidates', () => {
    const s = shell();
    s.prompt();
    s.type('cat /etc/pas');
    s.key('\t');
    s.out('swd ');
    s.enter();
    s.prompt();
    s.type('ls /u');
    s.key('\t\t');
    s.out(`\r\nusr/   users/\r\n${PROMPT}ls /u`);
    s.type('sr/bin');
    s.enter();
    assert.deepEqual(
      s.commands().map((c) => [c.command, c.source]),
      [
        ['cat /etc/passwd', 'screen'],
        ['ls /usr/bin', 'screen'],
      ],
    );
  });

  it('gives exec requests as they are', () => {
    assert.deepEqual(execCommand('systemctl status nginx'), {
      time: 0,
      command: 'systemctl status nginx',
      source: 'exec',
    });
  });

  it('ignores keys inside a full-screen program', () => {
    const s = shell();
    s.prompt();
    s.type('vim notes.txt');
    s.enter();
    s.out('\x1b[?1049h\x1b[H\x1b[2J~\r\n~\r\n"notes.txt" [New]');
    s.key('ihello world\x1b:wq\r');
    s.out('\x1b[?1049l');
    s.prompt();
    s.type('ls');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['vim notes.txt', 'ls']);
  });
});

describe('commands: input typed with the echo off is never extracted', () => {
  const SECRET = 'hunter2-Sw0rdfish';

  /** Fails if the secret, or any piece of it 4 characters or longer, shows in the result. */
  function assertNoSecret(commands: readonly SessionCommand[]) {
    const text = JSON.stringify(commands);
    for (let at = 0; at + 4 <= SECRET.length; at++) {
      assert.equal(text.includes(SECRET.slice(at, at + 4)), false, text);
    }
  }

  it('sudo: the password typed at its prompt is not a command', () => {
    const s = shell();
    s.prompt();
    s.type('sudo -k systemctl restart nginx');
    s.enter();
    s.out('[sudo] password for alice: ');
    s.typeBlind(SECRET);
    s.enter(); // sudo prints the newline itself
    s.prompt();
    s.type('ls');
    s.enter();
    const commands = s.commands();
    assert.deepEqual(texts(commands), ['sudo -k systemctl restart nginx', 'ls']);
    assertNoSecret(commands);
  });

  it('the password typed in one packet, with backspaces, Ctrl-U or Tab in it', () => {
    for (const keys of [
      `${SECRET}\r`,
      `x\x7f${SECRET}\r`,
      `wrong\x15${SECRET}\r`,
      `${SECRET}\t\r`,
    ]) {
      const s = shell();
      s.prompt();
      s.type('ssh admin@10.0.0.9');
      s.enter();
      s.out("admin@10.0.0.9's password: ");
      s.key(keys);
      s.out('\r\n');
      s.out('Welcome\r\n$ ');
      s.type('hostname');
      s.enter();
      const commands = s.commands();
      assert.deepEqual(texts(commands), ['ssh admin@10.0.0.9', 'hostname'], JSON.stringify(keys));
      assertNoSecret(commands);
    }
  });

  it('read -s: the program writes on the prompt line after the hidden input', () => {
    const s = shell();
    s.prompt();
    s.type('./deploy.sh');
    s.enter();
    s.out('Vault token: ');
    s.typeBlind(SECRET);
    s.key('\r');
    s.out('thanks, deploying\r\n');
    s.prompt();
    const commands = s.commands();
    assert.deepEqual(texts(commands), ['./deploy.sh']);
    assertNoSecret(commands);
  });

  it('a password typed before its prompt appeared, and a session ending mid-password', () => {
    const s = shell();
    s.prompt();
    s.type('mysql -u root -p');
    s.key('\r');
    s.key(`${SECRET}\r`); // typed ahead: echo is off by the time the terminal sees it
    s.out('\r\nEnter password: \r\n');
    s.out('mysql> ');
    s.typeBlind(SECRET.slice(0, 6)); // and the recording ends here
    const commands = s.commands();
    assert.deepEqual(texts(commands), ['mysql -u root -p']);
    assertNoSecret(commands);
  });

  it('an echoed mask (pwfeedback) is not a command either', () => {
    const s = shell();
    s.prompt();
    s.type('sudo -i');
    s.enter();
    s.out('[sudo] password for alice: ');
    for (const char of SECRET) {
      s.key(char);
      s.out('*');
    }
    s.key('\t'); // unknown key: the line is then read off the screen, which shows only stars
    s.enter();
    s.out('root@db01:~# ');
    const commands = s.commands();
    assert.deepEqual(texts(commands), ['sudo -i']);
    assertNoSecret(commands);
  });
});

describe('commands: hostile and random sessions', () => {
  it('never reports keys typed blind, whatever the prompts and noise around them', () => {
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const keys = 'abcXYZ019 -_/.:;\t\x7f\x15\x17\x1b[D\x1b[C\x1b[A';
    for (let round = 0; round < 200; round++) {
      const s = shell(next(2) === 0 ? 80 : 20);
      const secret = `S3cr${round}et`;
      s.out(['Password: ', '[sudo] password for alice: ', '$ ', '', 'Token:'][next(5)] ?? '');
      for (let i = 0; i < 20; i++) {
        const pick = next(keys.length);
        s.key(next(4) === 0 ? secret : keys.slice(pick, pick + 1));
        if (next(3) === 0) s.out(['\r\n', 'noise ', '\x1b[K', '\b', '> '][next(5)] ?? '');
      }
      s.key('\r');
      s.out(next(2) === 0 ? '\r\n$ ' : 'ok\r\n');
      const text = JSON.stringify(s.commands());
      assert.equal(text.includes('S3cr'), false, text);
    }
  });

  it('takes any bytes without throwing', () => {
    const events: AsciicastEvent[] = [];
    for (let i = 0; i < 2_000; i++) {
      const data = String.fromCodePoint(
        ...Array.from({ length: 8 }, (_, j) => (i * 31 + j * 7) % 0x3000),
      );
      events.push({ time: i, code: i % 3 === 0 ? 'i' : i % 97 === 0 ? 'r' : 'o', data });
    }
    assert.doesNotThrow(() => extractCommands({ width: 80 }, events));
  });
});

describe('commands: live tracking', () => {
  it('reports each command as its echo arrives', () => {
    const seen: string[] = [];
    const tracker = createCommandTracker({ width: 80, onCommand: (c) => seen.push(c.command) });
    tracker.output(0, PROMPT);
    tracker.input(1, 'd');
    tracker.output(1.01, 'd');
    tracker.input(1.1, 'f\r');
    assert.deepEqual(seen, []);
    tracker.output(1.11, 'f\r\n');
    assert.deepEqual(seen, ['df']);
  });
});

describe('commands: output that floods past the prompt', () => {
  it('reads the prompt and the command after thousands of lines arrived in big chunks', () => {
    const s = shell();
    s.prompt();
    s.type('yes');
    s.enter();
    const lines = 'y\r\n'.repeat(10_000);
    s.out(`${lines}^C\r\n${lines.slice(0, 3)}`); // a chunk ends mid-line, the next one carries on
    s.out(`${lines.slice(3)}\r\n`);
    s.prompt();
    s.type('uptime');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['yes', 'uptime']);
  });

  it('sees a screen switch inside a chunk of many lines', () => {
    const s = shell();
    s.prompt();
    s.type('less log');
    s.enter();
    s.out(`${'line\r\n'.repeat(500)}\x1b[?1049h${'row\r\n'.repeat(50)}`);
    s.key('q');
    s.out(`${'row\r\n'.repeat(50)}\x1b[?1049l`);
    s.prompt();
    s.type('id');
    s.enter();
    assert.deepEqual(texts(s.commands()), ['less log', 'id']);
  });

  it('still waits for the echo of a typed-ahead line through a flood', () => {
    const s = shell();
    s.prompt();
    s.type('make');
    s.enter();
    s.key('pwd\r');
    s.out(`${'cc -c x.c\r\n'.repeat(100)}pwd\r\n${'cc -c y.c\r\n'.repeat(100)}`);
    s.prompt();
    assert.deepEqual(texts(s.commands()), ['make', 'pwd']);
  });
});
