'use strict';
// Chat with the local Ollama model through its /api/chat endpoint, streaming the answer.

const config = {
  model: 'llama3.2',
  comfyuiUrl: 'http://127.0.0.1:8188',
  ollamaUrl: 'http://127.0.0.1:11434',
};
const history = [];
const $ = (id) => document.getElementById(id);

function line(text, className) {
  const div = document.createElement('div');
  div.className = className || '';
  div.textContent = text;
  $('log').append(div);
  $('log').scrollTop = $('log').scrollHeight;
  return div;
}

async function loadConfig() {
  try {
    const res = await fetch('/api/config');
    if (res.ok) Object.assign(config, await res.json());
  } catch {
    // Served without server.js (opened as a file): keep the defaults.
  }
  $('model').textContent = config.model;
  $('ollama').textContent = config.ollamaUrl;
  $('comfyui').href = config.comfyuiUrl;
}

async function chat(prompt) {
  history.push({ role: 'user', content: prompt });
  line(prompt, 'user');
  const answer = line('…');
  let res;
  try {
    res = await fetch(`${config.ollamaUrl}/api/chat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: config.model, messages: history, stream: true }),
    });
  } catch {
    answer.remove();
    // The browser says only "Failed to fetch": say what it means and what to do.
    throw new Error(`Ollama does not answer at ${config.ollamaUrl}. Start DinoAir with start.sh `
      + '(or start.bat), which starts Ollama, or run "ollama serve"');
  }
  if (!res.ok) {
    answer.remove();
    throw new Error(`Ollama answered ${res.status}: ${await res.text()}`);
  }
  // The answer arrives as one JSON object per line.
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const json of lines.filter((l) => l.trim())) {
      const part = JSON.parse(json);
      if (part.error) throw new Error(part.error);
      text += part.message?.content || '';
      answer.textContent = text;
    }
  }
  history.push({ role: 'assistant', content: text });
}

$('chat').addEventListener('submit', async (event) => {
  event.preventDefault();
  const prompt = $('prompt').value.trim();
  if (!prompt) return;
  $('prompt').value = '';
  $('send').disabled = true;
  try {
    await chat(prompt);
  } catch (err) {
    history.pop();
    line(`${err.message}. The chat needs Ollama running with the model "${config.model}" pulled.`,
      'error');
  } finally {
    $('send').disabled = false;
    $('prompt').focus();
  }
});

$('prompt').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    $('chat').requestSubmit();
  }
});

loadConfig();
