/* Parrot web UI: plain JavaScript over the server's HTTP API (no build step, no external files). */
"use strict";

const SAMPLE_RATE = 24000;
const $ = (id) => document.getElementById(id);

// -- labels ------------------------------------------------------------------------------------------

const I18N = {
  en: {
    subtitle: "offline speech generation", apiDocs: "API docs", apiKey: "API key (if the server needs one)",
    tabPretrained: "Pretrained voice", tabClone: "3-second clone", tabCross: "Cross-lingual clone",
    tabInstruct: "Natural-language control", voice: "Voice", textToSpeak: "Text to speak",
    uploadClip: "Upload a clip (3-30 s)", record: "● Record", stopRecording: "■ Stop recording",
    transcript: "What the clip says (filled automatically, editable)", route: "How to generate",
    routeZeroShot: "one-off clone (/inference_zero_shot)", routeSaved: "save the voice, then /v1/audio/speech",
    voiceName: "voice name", saveToLibrary: "Save to library",
    crossHint: "The clip can be in one language and the text in another (Mandarin, English, Japanese, Korean; Spanish, French, Italian, Portuguese and Hindi with a language tag such as <|es|>).",
    instruction: "Instruction", instructHint: "Emotion, style, rate, pitch and loudness, in English or Chinese, for any voice (cloned ones too). Tags in the text: sounds, emphasis, pauses, language. Dialects, singing and character voices are beyond the embedded engine: you are told when a request asks for them.",
    understood: "Instruction understood as: {what}",
    speed: "Speed", streaming: "Streaming", generate: "Generate", stop: "Stop", download: "Download WAV",
    history: "History (this session)", historyEmpty: "Nothing generated yet.", library: "Voice library",
    importVoice: "Import a .voice file", importName: "new name (optional)", import: "Import",
    name: "Name", kind: "Kind", gender: "Gender", language: "Language",
    play: "Play", rename: "Rename", delete: "Delete", export: "Export",
    transcribing: "Transcribing the clip…", transcribed: "Transcribed: check and edit the text if needed.",
    recording: "Recording… speak for 3-30 seconds, then stop.", generating: "Generating…",
    cloning: "Cloning the voice (several seconds)…", saved: "Saved as “{name}”.",
    needClip: "Upload or record a clip first.", needText: "Enter some text to speak.",
    needName: "Enter a name for the voice.", needImport: "Choose a .voice file to import.",
    micError: "The microphone is not available: {msg}", renamePrompt: "New name for “{name}”:",
    deleteConfirm: "Delete the voice “{name}”?", imported: "Imported “{name}”.",
    ttfa: "first audio", rtf: "RTF", audioLen: "audio", total: "total",
    sampleText: "Hello, this is how I sound. 你好，这是我的声音。",
    pretrainedText: "今天天气真不错啊，要不要一起去公园散步？Let's meet at 3:30 pm.",
    cloneText: "Nice to meet you. This is my cloned voice speaking.",
    crossText: "你好，很高兴认识你。我现在用另一种语言说话。",
    instructText: "I can't believe we finally made it to the top of the mountain!",
    instructions: ["Speak cheerfully, with excitement", "Whisper softly", "Speak slowly and calmly, like a news anchor",
      "Sound sad and tired", "用四川话说", "用开心的语气说"],
    tags: ["[laughter]", "[breath]", "<strong>important</strong>", "[sigh]", "[pause:1s]", '<break time="500ms"/>',
      '<prosody rate="slow" pitch="low">slowly</prosody>', "<|zh|>", "<|ko|>안녕하세요", "<|es|>Hola"],
    networkError: "Could not reach the server: {msg}", httpError: "The server answered {status} {text}",
    stopped: "stopped",
    tabChat: "Voice chat", chatStart: "● Start talking", chatEnd: "■ End conversation", chatCancel: "Stop the answer",
    chatSend: "Send", chatTextPh: "…or type a message and press Enter",
    chatHint: "Talk with a language model; it answers in the chosen voice. Speak any time: talking over the answer interrupts it.",
    chatInstructions: "System prompt (optional)", chatInstructionsPh: "e.g. You are a patient English teacher.",
    chatConnecting: "Connecting…", chatListening: "Listening: just speak", chatHearing: "Hearing you…",
    chatThinking: "Thinking…", chatSpeaking: "Speaking (talk to interrupt)", chatClosed: "Conversation ended",
    chatFirstAudio: "voice to first audio", chatServerFirstAudio: "server", chatWps: "model words/s",
    chatNotReady: "Voice chat is not ready yet",
    tabDesign: "Design a voice", designHint: "A new voice without a recording: blend two voices, then adjust it. Preview, then save it to the library.",
    designVoiceA: "Voice A", designVoiceB: "Voice B (optional)", designMix: "Share of voice B", designPitch: "Pitch (semitones)",
    designPace: "Pace", designBrightness: "Brightness (darker, older ↔ brighter, younger)", designBreathiness: "Breathiness",
    designPreview: "▶ Preview", designSaved: "Saved as {name}: pick it in any voice list.", designMaking: "Making the preview…",
    consentByPh: "consent given by (the speaker's name)", consentTextPh: "what they agreed to, e.g. I agree to have my voice cloned for this project",
    consentShown: "consent: {by}, {at}", designedShown: "designed",
    tabTrain: "Train a voice", trainFiles: "Add recordings", trainName: "Name of the new voice",
    trainfirst: "Training: the first step…",
    trainHint: "Adapts the model to one speaker: give 10 s to a few minutes of them speaking, in one or several clips (upload or record). Transcripts are optional.",
    trainTranscript: "what it says (optional)", remove: "Remove", trainMinutes: "Training minutes",
    trainResume: "Continue a cancelled training", trainStart: "Start training", trainCancel: "Cancel",
    trainUse: "Use this voice", trainNeedClips: "Add at least one recording.",
    trainRecording: "Recording… speak, then stop; each recording is added to the list.",
    trainpending: "Starting…", trainpreparing: "Preparing the recordings (transcribing and aligning)…",
    traintraining: "Training: {pct}% · step {step} · loss {loss} · {left} left", trainsaving: "Saving the voice…",
    traindone: "The voice “{name}” is ready: it is in the voice lists and the library.",
    trainfailed: "Training failed: {msg}",
    traincancelled: "Cancelled. The work is kept: start again with the same name and recordings and “Continue” ticked.",
    tabBook: "Audiobook", bookFile: "Choose a book (.epub .md .txt)", bookFormat: "Format", bookStart: "Start",
    bookResume: "Continue", bookDownload: "Download audio", bookSubtitles: "Download subtitles",
    bookHint: "Reads a whole book into one file with chapters: EPUB (without DRM), Markdown or text. It runs in the background and continues after a restart.",
    bookNeedFile: "Choose a book file first.",
    bookqueued: "“{title}”: waiting to start…",
    bookrunning: "“{title}”: {pct}% · chapter {chapter} of {chapters} · {done} of {total} parts",
    bookdone: "“{title}” is ready: {chapters} chapters.", bookfailed: "The book failed: {msg}",
    bookcancelled: "Cancelled at {pct}%. The finished parts are kept: “Continue” goes on from there.",
  },
  zh: {
    subtitle: "离线语音合成", apiDocs: "API 文档", apiKey: "API 密钥（服务器需要时）",
    tabPretrained: "预训练音色", tabClone: "3s极速复刻", tabCross: "跨语种复刻", tabInstruct: "自然语言控制",
    voice: "音色", textToSpeak: "合成文本", uploadClip: "上传音频（3-30 秒）", record: "● 录音",
    stopRecording: "■ 停止录音", transcript: "音频内容（自动识别，可修改）", route: "生成方式",
    routeZeroShot: "临时复刻（/inference_zero_shot）", routeSaved: "先保存音色，再用 /v1/audio/speech",
    voiceName: "音色名称", saveToLibrary: "保存到音色库",
    crossHint: "音频可以是一种语言，文本是另一种语言（中文、英文、日文、韩文；西班牙语、法语、意大利语、葡萄牙语和印地语请加语种标签，如 <|es|>）。",
    instruction: "指令", instructHint: "用中文或英文描述情绪、风格、语速、音调和音量，适用于所有音色（包括复刻音色）。文本中可插入声音、重读、停顿和语种标签。方言、唱歌和角色音超出内置引擎的能力，请求中出现时会给出提示。",
    understood: "指令理解为：{what}",
    speed: "语速", streaming: "流式播放", generate: "生成音频", stop: "停止", download: "下载 WAV",
    history: "本次生成记录", historyEmpty: "还没有生成内容。", library: "音色库",
    importVoice: "导入 .voice 文件", importName: "新名称（可选）", import: "导入",
    name: "名称", kind: "类型", gender: "性别", language: "语言",
    play: "试听", rename: "重命名", delete: "删除", export: "导出",
    transcribing: "正在识别音频内容…", transcribed: "识别完成：如有错误请修改。",
    recording: "正在录音……请说 3-30 秒，然后停止。", generating: "正在生成…",
    cloning: "正在复刻音色（需要几秒钟）…", saved: "已保存为“{name}”。",
    needClip: "请先上传或录制一段音频。", needText: "请输入要合成的文本。",
    needName: "请输入音色名称。", needImport: "请选择要导入的 .voice 文件。",
    micError: "无法使用麦克风：{msg}", renamePrompt: "“{name}”的新名称：",
    deleteConfirm: "删除音色“{name}”？", imported: "已导入“{name}”。",
    ttfa: "首包延迟", rtf: "实时率", audioLen: "音频时长", total: "总耗时",
    sampleText: "你好，这是我的声音。Hello, this is how I sound.",
    pretrainedText: "今天天气真不错啊，要不要一起去公园散步？Let's meet at 3:30 pm.",
    cloneText: "很高兴认识你，这是我复刻出来的声音。",
    crossText: "Hello, nice to meet you. I am speaking in another language now.",
    instructText: "我们终于爬到山顶了，真是太不容易了！",
    instructions: ["用开心的语气说", "用悲伤的语气说", "轻声细语地说", "像新闻主播一样，语速慢一点",
      "用四川话说", "Speak cheerfully, with excitement"],
    tags: ["[laughter]", "[breath]", "<strong>重点</strong>", "[sigh]", "[pause:1s]", '<break time="500ms"/>',
      '<prosody rate="slow" pitch="low">慢慢地</prosody>', "<|en|>", "<|ko|>안녕하세요", "<|es|>Hola"],
    networkError: "无法连接服务器：{msg}", httpError: "服务器返回 {status} {text}",
    stopped: "已停止",
    tabChat: "语音对话", chatStart: "● 开始对话", chatEnd: "■ 结束对话", chatCancel: "停止回答",
    chatSend: "发送", chatTextPh: "……或输入文字后按回车",
    chatHint: "与大语言模型语音对话，回答用所选音色朗读。随时可以说话：打断时回答会停止。",
    chatInstructions: "系统提示词（可选）", chatInstructionsPh: "例如：你是一位耐心的中文老师。",
    chatConnecting: "正在连接…", chatListening: "正在聆听：请直接说话", chatHearing: "正在听你说…",
    chatThinking: "正在思考…", chatSpeaking: "正在回答（说话即可打断）", chatClosed: "对话已结束",
    chatFirstAudio: "语音到首包", chatServerFirstAudio: "服务器", chatWps: "模型 词/秒",
    chatNotReady: "语音对话尚未就绪",
    tabDesign: "设计音色", designHint: "无需录音即可创建新音色：混合两个音色，再调整。先试听，再保存到音色库。",
    designVoiceA: "音色 A", designVoiceB: "音色 B（可选）", designMix: "音色 B 的比例", designPitch: "音高（半音）",
    designPace: "语速", designBrightness: "明亮度（低沉、年长 ↔明亮、年轻）", designBreathiness: "气声",
    designPreview: "▶ 试听", designSaved: "已保存为 {name}：可在任何音色列表中选择。", designMaking: "正在生成试听…",
    consentByPh: "授权人（说话人姓名）", consentTextPh: "授权内容，例如：我同意在本项目中克隆我的声音",
    consentShown: "授权：{by}，{at}", designedShown: "设计音色",
    tabTrain: "训练音色", trainFiles: "添加录音", trainName: "新音色名称", trainfirst: "训练中：正在进行第一步…",
    trainHint: "让模型适应一位说话人：提供 10 秒到几分钟的该人说话录音，可分多段（上传或录音）。文字内容可不填。",
    trainTranscript: "录音内容（可选）", remove: "移除", trainMinutes: "训练时长（分钟）",
    trainResume: "继续已取消的训练", trainStart: "开始训练", trainCancel: "取消",
    trainUse: "使用这个音色", trainNeedClips: "请至少添加一段录音。",
    trainRecording: "正在录音……说完后停止，每段录音都会加入列表。",
    trainpending: "正在启动…", trainpreparing: "正在准备录音（识别并对齐）…",
    traintraining: "训练中：{pct}% · 第 {step} 步 · 损失 {loss} · 剩余 {left}", trainsaving: "正在保存音色…",
    traindone: "音色“{name}”已就绪：已出现在音色列表和音色库中。",
    trainfailed: "训练失败：{msg}",
    traincancelled: "已取消。训练进度已保留：用相同名称和录音、勾选“继续”即可接着训练。",
    tabBook: "有声书", bookFile: "选择书籍（.epub .md .txt）", bookFormat: "格式", bookStart: "开始",
    bookResume: "继续", bookDownload: "下载音频", bookSubtitles: "下载字幕",
    bookHint: "把整本书朗读成一个带章节的音频文件：EPUB（无 DRM）、Markdown 或纯文本。在后台运行，服务重启后会接着做。",
    bookNeedFile: "请先选择书籍文件。",
    bookqueued: "《{title}》：等待开始…",
    bookrunning: "《{title}》：{pct}% · 第 {chapter}/{chapters} 章 · {done}/{total} 段",
    bookdone: "《{title}》已完成：共 {chapters} 章。", bookfailed: "有声书生成失败：{msg}",
    bookcancelled: "已在 {pct}% 处取消。已完成的部分会保留：点“继续”即可接着做。",
  },
};

let lang = localStorage.getItem("parrot.lang") ||
  ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");

function t(key, vars = {}) {
  const value = (I18N[lang] && I18N[lang][key]) ?? I18N.en[key] ?? key;
  return typeof value === "string" ? value.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "") : value;
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  $("lang-toggle").textContent = lang === "zh" ? "English" : "中文";
  for (const [id, key] of [["pretrained-text", "pretrainedText"], ["clone-text", "cloneText"],
    ["cross-text", "crossText"], ["instruct-text", "instructText"]]) {
    const el = $(id);
    if (!el.value || el.dataset.auto === "1") { el.value = t(key); el.dataset.auto = "1"; }
  }
  chips("instruct-examples", t("instructions"), (text) => { $("instruct-instruction").value = text; });
  chips("tag-examples", t("tags"), (tag) => insertAtCursor($("instruct-text"), tag));
  for (const rec of Object.values(recorders)) rec.button.textContent = rec.active ? t("stopRecording") : t("record");
  setChatStatus(chat.state);
  renderTrainClips();
  renderTraining();
  renderVoices();
  renderStats();
}

function chips(id, items, onClick) {
  const box = $(id);
  box.replaceChildren(...items.map((text) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "chip"; b.textContent = text;
    b.addEventListener("click", () => onClick(text));
    return b;
  }));
}

function insertAtCursor(area, text) {
  const start = area.selectionStart ?? area.value.length, end = area.selectionEnd ?? start;
  area.value = area.value.slice(0, start) + text + area.value.slice(end);
  area.dataset.auto = "0";
  area.focus();
  area.selectionStart = area.selectionEnd = start + text.length;
}

// -- API ---------------------------------------------------------------------------------------------

class ApiFailure extends Error {}

function authHeaders(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: authHeaders(options.headers || {}) });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiFailure(t("networkError", { msg: err.message }));
  }
  if (!response.ok) throw new ApiFailure(await errorMessage(response));
  return response;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
    if (body && typeof body.detail === "string") return body.detail;
  } catch (_) { /* not JSON */ }
  return t("httpError", { status: response.status, text: response.statusText });
}

const jsonPost = (path, body, signal) => api(path, {
  method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" }, signal,
});

// -- messages ----------------------------------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.classList.toggle("hidden", !message);
}

function showWarning(message) {
  const box = $("warning");
  box.textContent = message || "";
  box.classList.toggle("hidden", !message);
}

function showUnderstood(what) {
  const box = $("understood");
  box.textContent = what ? t("understood", { what }) : "";
  box.classList.toggle("hidden", !what);
}

function report(err) {
  if (err && err.name === "AbortError") return;
  showError(err instanceof ApiFailure ? err.message : String((err && err.message) || err));
}

// -- tabs --------------------------------------------------------------------------------------------

let mode = "pretrained";
document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
  mode = tab.dataset.mode;
  document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === tab));
  document.querySelectorAll(".mode").forEach((m) => m.classList.toggle("hidden", m.id !== `mode-${mode}`));
  const own = ["chat", "train", "design", "book"].includes(mode); // these tabs have their own buttons and output
  for (const id of ["generate-controls", "generate-output"]) $(id).classList.toggle("hidden", own);
  showError(""); showWarning("");
  if (mode === "chat") checkChatRuntime();
}));

// -- voices ------------------------------------------------------------------------------------------

let voices = [];

async function loadVoices() {
  try {
    const body = await (await api("/v1/audio/voices")).json();
    voices = body.voices || [];
  } catch (err) { report(err); }
  renderVoices();
}

function renderVoices() {
  document.querySelectorAll(".voice-select").forEach((select) => {
    const current = select.value;
    select.replaceChildren(...voices.map((v) => {
      const o = document.createElement("option");
      o.value = v.name;
      o.textContent = `${v.name} (${[v.kind, v.gender, v.language].filter(Boolean).join(", ")})`;
      return o;
    }));
    if (voices.some((v) => v.name === current)) select.value = current;
  });
  const body = document.querySelector("#voices tbody");
  body.replaceChildren(...voices.map((v) => {
    const row = document.createElement("tr");
    row.dataset.voice = v.name;
    for (const text of [v.name, v.kind, v.gender || "", v.language || ""]) {
      const td = document.createElement("td"); td.textContent = text; row.append(td);
    }
    const about = v.consent ? t("consentShown", { by: v.consent.by, at: v.consent.at.slice(0, 10) })
      : v.design ? t("designedShown") : "";
    if (about) {  // who agreed to a clone (the statement on hover), or that the voice was designed
      const note = document.createElement("small");
      note.className = v.consent ? "consent" : "designed";
      note.textContent = about;
      note.title = v.consent ? v.consent.text : JSON.stringify(v.design);
      row.firstChild.append(document.createElement("br"), note);
    }
    const actions = document.createElement("td");
    actions.className = "actions";
    const saved = v.kind === "cloned" || v.kind === "trained";
    actions.append(
      button(t("play"), () => playSample(v.name), "play"),
      button(t("rename"), () => renameVoice(v.name), "rename", !saved),
      button(t("delete"), () => deleteVoice(v.name), "delete", !saved),
      exportLink(v.name),
    );
    row.append(actions);
    return row;
  }));
}

function button(label, onClick, cls, disabled = false) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label; b.className = `small ${cls}`; b.disabled = disabled;
  b.addEventListener("click", onClick);
  return b;
}

function exportLink(name) {
  const a = document.createElement("a");
  a.className = "button small export";
  a.textContent = t("export");
  a.href = `/v1/audio/voices/${encodeURIComponent(name)}/export`;
  a.download = `${name}.voice`;
  a.addEventListener("click", async (event) => {
    if (!$("api-key").value.trim()) return; // a plain link works without a key
    event.preventDefault();
    try {
      const blob = await (await api(a.href)).blob();
      const url = URL.createObjectURL(blob);
      const tmp = Object.assign(document.createElement("a"), { href: url, download: a.download });
      tmp.click();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { report(err); }
  });
  return a;
}

async function playSample(name) {
  showError("");
  try {
    const response = await jsonPost("/v1/audio/speech", {
      model: "parrot", voice: name, input: t("sampleText"), response_format: "wav",
      speed: Number($("speed").value),
    });
    const player = $("player");
    player.src = URL.createObjectURL(await response.blob());
    await player.play().catch(() => {});
  } catch (err) { report(err); }
}

async function renameVoice(name) {
  const next = prompt(t("renamePrompt", { name }), name);
  if (!next || next === name) return;
  try {
    await api(`/v1/audio/voices/${encodeURIComponent(name)}`, {
      method: "PATCH", body: JSON.stringify({ name: next }), headers: { "Content-Type": "application/json" },
    });
    showError("");
    await loadVoices();
  } catch (err) { report(err); }
}

async function deleteVoice(name) {
  if (!confirm(t("deleteConfirm", { name }))) return;
  try {
    await api(`/v1/audio/voices/${encodeURIComponent(name)}`, { method: "DELETE" });
    showError("");
    await loadVoices();
  } catch (err) { report(err); }
}

$("import-button").addEventListener("click", async () => {
  const file = $("import-file").files[0];
  if (!file) { showError(t("needImport")); return; }
  const form = new FormData();
  form.append("file", file);
  if ($("import-name").value.trim()) form.append("name", $("import-name").value.trim());
  try {
    const voice = await (await api("/v1/audio/voices/import", { method: "POST", body: form })).json();
    showError(""); showWarning(t("imported", { name: voice.name }));
    $("import-file").value = ""; $("import-name").value = "";
    await loadVoices();
  } catch (err) { report(err); }
});

// -- clips: upload, record, transcribe ----------------------------------------------------------------

const clips = { clone: null, cross: null };         // the current File of each clone mode
const savedClip = { file: null, name: null };       // the clip last saved to the library, and its name
const recorders = {};

function setClip(which, file) {
  clips[which] = file;
  const preview = $(`${which}-preview`);
  if (file) { preview.src = URL.createObjectURL(file); preview.classList.remove("hidden"); }
  else { preview.removeAttribute("src"); preview.classList.add("hidden"); }
  if (which === "clone") {
    $("clone-transcript").value = "";
    if (file) transcribe(file);
  }
}

async function transcribe(file) {
  const status = $("clone-status");
  status.textContent = t("transcribing");
  showError("");
  const form = new FormData();
  form.append("file", file);
  form.append("model", "whisper-1");
  try {
    const body = await (await api("/v1/audio/transcriptions", { method: "POST", body: form })).json();
    if (clips.clone !== file) return; // another clip was chosen meanwhile
    $("clone-transcript").value = body.text || "";
    status.textContent = t("transcribed");
  } catch (err) {
    status.textContent = "";
    report(err);
  }
}

for (const which of ["clone", "cross", "train"]) {
  if (which !== "train") {
    $(`${which}-file`).addEventListener("change", (event) => setClip(which, event.target.files[0] || null));
  }
  const rec = { button: $(`${which}-record`), active: false, recorder: null };
  recorders[which] = rec;
  rec.button.addEventListener("click", () => toggleRecording(which));
}

async function toggleRecording(which) {
  const rec = recorders[which];
  if (rec.active) { rec.recorder.stop(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showError(t("micError", { msg: err.message || err.name })); return;
  }
  const parts = [];
  rec.recorder = new MediaRecorder(stream);
  rec.recorder.addEventListener("dataavailable", (e) => { if (e.data.size) parts.push(e.data); });
  rec.recorder.addEventListener("stop", () => {
    stream.getTracks().forEach((track) => track.stop());
    rec.active = false; rec.button.textContent = t("record"); rec.button.classList.remove("on");
    const type = rec.recorder.mimeType || "audio/webm";
    const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
    $(`${which}-file`).value = "";
    const file = new File(parts, `recording.${ext}`, { type });
    if (which === "train") addTrainClips([file]); else setClip(which, file);
  });
  rec.recorder.start();
  rec.active = true; rec.button.textContent = t("stopRecording"); rec.button.classList.add("on");
  if (which === "clone") $("clone-status").textContent = t("recording");
  if (which === "train") $("train-status").textContent = t("trainRecording");
}

async function saveClone() {
  const file = clips.clone;
  const name = $("clone-name").value.trim();
  if (!file) throw new ApiFailure(t("needClip"));
  if (!name) throw new ApiFailure(t("needName"));
  $("clone-status").textContent = t("cloning");
  const form = new FormData();
  form.append("name", name);
  form.append("file", file);
  if ($("clone-transcript").value.trim()) form.append("text", $("clone-transcript").value.trim());
  for (const [field, id] of [["consent_by", "clone-consent-by"], ["consent_text", "clone-consent-text"]]) {
    if ($(id).value.trim()) form.append(field, $(id).value.trim());
  }
  try {
    const voice = await (await api("/v1/audio/voices", { method: "POST", body: form })).json();
    savedClip.file = file; savedClip.name = voice.name;
    $("clone-status").textContent = t("saved", { name: voice.name });
    await loadVoices();
    return voice.name;
  } catch (err) {
    $("clone-status").textContent = "";
    throw err;
  }
}

$("clone-save").addEventListener("click", async () => {
  showError("");
  try { await saveClone(); } catch (err) { report(err); }
});

// -- voice design ------------------------------------------------------------------------------------

const DESIGN_SLIDERS = { mix: (v) => `${Math.round(v * 100)}%`, pitch: (v) => `${v > 0 ? "+" : ""}${v}`,
  pace: (v) => `${Number(v).toFixed(2)}×`, brightness: (v) => `${v > 0 ? "+" : ""}${v}`, breathiness: (v) => `${v}` };
for (const [key, show] of Object.entries(DESIGN_SLIDERS)) {
  const input = $(`design-${key}`);
  input.addEventListener("input", () => { $(`design-${key}-value`).textContent = show(Number(input.value)); });
}

function designRequest() {
  const a = $("design-a").value, b = $("design-b").value, mix = Number($("design-mix").value);
  const source = !b || b === a || mix <= 0 ? a : mix >= 1 ? b : `${a}*${(1 - mix).toFixed(2)}+${b}*${mix.toFixed(2)}`;
  return {
    source, pitch: Number($("design-pitch").value), pace: Number($("design-pace").value),
    brightness: Number($("design-brightness").value), breathiness: Number($("design-breathiness").value),
  };
}

$("design-preview").addEventListener("click", async () => {
  showError("");
  $("design-status").textContent = t("designMaking");
  try {
    const text = $("design-text").value.trim() || t("sampleText");
    const response = await jsonPost("/v1/audio/voices/design/preview", { ...designRequest(), input: text });
    const player = $("design-player");
    player.src = URL.createObjectURL(await response.blob());
    player.classList.remove("hidden");
    $("design-status").textContent = "";
    await player.play().catch(() => {});
  } catch (err) { $("design-status").textContent = ""; report(err); }
});

$("design-save").addEventListener("click", async () => {
  showError("");
  const name = $("design-name").value.trim();
  if (!name) { report(new ApiFailure(t("needName"))); return; }
  try {
    const voice = await (await jsonPost("/v1/audio/voices/design", { ...designRequest(), name })).json();
    $("design-status").textContent = t("designSaved", { name: voice.name });
    await loadVoices();
  } catch (err) { report(err); }
});

// -- training a voice --------------------------------------------------------------------------------

const TRAIN_PATH = "/v1/audio/voices/train";
const training = { clips: [], job: null }; // clips: [{ file, text }]; job: the last job seen

function addTrainClips(files) {
  for (const file of files) training.clips.push({ file, text: "" });
  renderTrainClips();
}

function renderTrainClips() {
  $("train-clips").replaceChildren(...training.clips.map((clip, index) => {
    const item = document.createElement("li");
    const audio = document.createElement("audio");
    audio.controls = true; audio.src = clip.url || (clip.url = URL.createObjectURL(clip.file));
    const text = document.createElement("input");
    text.className = "train-text"; text.placeholder = t("trainTranscript"); text.value = clip.text;
    text.addEventListener("input", () => { clip.text = text.value; });
    const name = document.createElement("span");
    name.className = "clip-name"; name.textContent = clip.file.name;
    const drop = button(t("remove"), () => {
      URL.revokeObjectURL(clip.url); training.clips.splice(index, 1); renderTrainClips();
    }, "remove");
    item.append(name, audio, text, drop);
    return item;
  }));
}

$("train-file").addEventListener("change", (event) => { addTrainClips([...event.target.files]); event.target.value = ""; });

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function renderTraining() {
  const job = training.job, status = $("train-status"), bar = $("train-progress");
  const running = Boolean(job && !["done", "failed", "cancelled"].includes(job.state));
  $("train-start").disabled = running;
  $("train-cancel").disabled = !running;
  $("train-use").classList.toggle("hidden", !(job && job.state === "done"));
  bar.classList.toggle("hidden", !job);
  if (!job) return;
  bar.value = job.fraction || 0;
  status.dataset.state = job.state;
  const first = job.state === "training" && !job.step; // no progress reported yet
  status.textContent = t(first ? "trainfirst" : `train${job.state}`, {
    pct: Math.round(100 * (job.fraction || 0)), step: job.step, loss: job.loss == null ? "-" : job.loss.toFixed(3),
    left: clock(job.seconds_left), name: job.voice || job.name, msg: job.error ? job.error.message : "",
  });
}

function showJob(job) {
  const finishedNow = job.state === "done" && !(training.job && training.job.state === "done");
  training.job = job;
  renderTraining();
  if (finishedNow) loadVoices();
}

/** Follows a job's Server-Sent Events at `path`/events (fetch, so the API key header goes along) until it
 * finishes, handing each job state to `show`; then shows the job once more as GET `path` has it. */
async function followJob(path, show) {
  try {
    const response = await api(`${path}/events`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        for (const line of block.split("\n")) if (line.startsWith("data: ")) show(JSON.parse(line.slice(6)));
      }
    }
    show(await (await api(path)).json());
  } catch (err) { report(err); }
}

const followTraining = (id) => followJob(`${TRAIN_PATH}/${encodeURIComponent(id)}`, showJob);

$("train-start").addEventListener("click", async () => {
  showError("");
  const name = $("train-name").value.trim();
  if (!name) { showError(t("needName")); return; }
  if (!training.clips.length) { showError(t("trainNeedClips")); return; }
  const form = new FormData();
  form.append("name", name);
  for (const clip of training.clips) form.append("files", clip.file);
  if (training.clips.some((clip) => clip.text.trim())) {
    for (const clip of training.clips) form.append("text", clip.text.trim());
  }
  form.append("minutes", $("train-minutes").value || "10");
  form.append("resume", $("train-resume").checked ? "true" : "false");
  try {
    const job = await (await api(TRAIN_PATH, { method: "POST", body: form })).json();
    showJob(job);
    followTraining(job.id);
  } catch (err) { report(err); }
});

$("train-cancel").addEventListener("click", async () => {
  if (!training.job) return;
  try {
    showJob(await (await api(`${TRAIN_PATH}/${encodeURIComponent(training.job.id)}`, { method: "DELETE" })).json());
  } catch (err) { report(err); }
});

$("train-use").addEventListener("click", async () => {
  const name = training.job && training.job.voice;
  if (!name) return;
  $("tab-pretrained").click();
  if (!voices.some((v) => v.name === name)) await loadVoices();
  $("pretrained-voice").value = name;
});

// -- audiobooks (long-form jobs) ---------------------------------------------------------------------

const BOOK_PATH = "/v1/audio/jobs";
let bookJob = null;
const bookPath = (job) => `${BOOK_PATH}/${encodeURIComponent(job.id)}`;

function showBook(job) {
  bookJob = job;
  const running = ["queued", "running"].includes(job.state), status = $("book-status"), bar = $("book-progress");
  $("book-start").disabled = running;
  $("book-cancel").disabled = !running;
  $("book-resume").classList.toggle("hidden", !["cancelled", "failed"].includes(job.state));
  for (const id of ["book-download", "book-subtitles"]) $(id).classList.toggle("hidden", job.state !== "done");
  bar.classList.remove("hidden");
  bar.value = job.fraction || 0;
  status.dataset.state = job.state;
  status.textContent = t(`book${job.state}`, {
    title: job.title, pct: Math.round(100 * (job.fraction || 0)), chapter: job.chapter, chapters: job.chapters,
    done: job.segments_done, total: job.segments_total, msg: job.error ? job.error.message : "",
  });
}

$("book-start").addEventListener("click", async () => {
  showError("");
  const file = $("book-file").files[0];
  if (!file) { showError(t("bookNeedFile")); return; }
  const form = new FormData();
  form.append("file", file);
  form.append("format", $("book-format").value);
  if ($("book-voice").value) form.append("voice", $("book-voice").value);
  try {
    const job = await (await api(BOOK_PATH, { method: "POST", body: form })).json();
    showBook(job);
    followJob(bookPath(job), showBook);
  } catch (err) { report(err); }
});

$("book-cancel").addEventListener("click", async () => {
  if (!bookJob) return;
  try { showBook(await (await api(`${bookPath(bookJob)}/cancel`, { method: "POST" })).json()); } catch (err) { report(err); }
});

$("book-resume").addEventListener("click", async () => {
  if (!bookJob) return;
  try {
    showBook(await (await api(`${bookPath(bookJob)}/resume`, { method: "POST" })).json());
    followJob(bookPath(bookJob), showBook);
  } catch (err) { report(err); }
});

/** Downloads go through fetch (the API key header goes along), then a temporary link saves the file. */
async function saveFrom(path) {
  try {
    const response = await api(path);
    const name = (/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(response.headers.get("Content-Disposition") || "") || [])[1];
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = name ? decodeURIComponent(name) : "book";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch (err) { report(err); }
}

$("book-download").addEventListener("click", () => bookJob && saveFrom(`${bookPath(bookJob)}/audio`));
$("book-subtitles").addEventListener("click", () => bookJob && saveFrom(`${bookPath(bookJob)}/subtitles`));

async function resumeBookView() {
  try {
    const { jobs } = await (await api(BOOK_PATH)).json();
    const job = (jobs || [])[0];
    if (!job) return;
    showBook(job);
    if (["queued", "running"].includes(job.state)) followJob(bookPath(job), showBook);
  } catch (_) { /* e.g. an API key is needed first */ }
}

/** A job already running (started from another tab or before a reload) is followed too. */
async function resumeTrainingView() {
  try {
    const { jobs } = await (await api(TRAIN_PATH)).json();
    const job = (jobs || [])[0];
    if (job && !["done", "failed", "cancelled"].includes(job.state)) { showJob(job); followTraining(job.id); }
  } catch (_) { /* e.g. an API key is needed first */ }
}

// -- generation --------------------------------------------------------------------------------------

const speedInput = $("speed");
speedInput.addEventListener("input", () => { $("speed-value").textContent = `${Number(speedInput.value).toFixed(2)}×`; });

let audioContext = null;
let current = null; // the generation in progress: { controller, sources }
let lastStats = null;

function context() {
  if (!audioContext) audioContext = new AudioContext({ sampleRate: SAMPLE_RATE });
  if (audioContext.state === "suspended") audioContext.resume().catch(() => {});
  return audioContext;
}

/** What to request for the current mode: { path, init, label, voice } (init without signal). */
async function buildRequest(streaming) {
  const speed = Number(speedInput.value);
  const speech = (voice, input, extra = {}) => ({
    path: "/v1/audio/speech",
    body: { model: "parrot", voice, input, speed, response_format: streaming ? "pcm" : "wav", ...extra },
  });
  const text = $(`${mode}-text`).value.trim();
  if (!text) throw new ApiFailure(t("needText"));
  if (mode === "pretrained") return { ...speech($("pretrained-voice").value, text), voice: $("pretrained-voice").value };
  if (mode === "instruct") {
    const voice = $("instruct-voice").value;
    return { ...speech(voice, text, { instructions: $("instruct-instruction").value }), voice };
  }
  const file = clips[mode];
  if (!file) throw new ApiFailure(t("needClip"));
  if (mode === "clone" && document.querySelector("input[name=clone-route]:checked").value === "saved") {
    const name = savedClip.file === file ? savedClip.name : await saveClone();
    return { ...speech(name, text), voice: name };
  }
  const form = new FormData();
  form.append("tts_text", text);
  form.append("prompt_wav", file);
  if (mode === "clone") form.append("prompt_text", $("clone-transcript").value);
  const path = mode === "clone" ? "/inference_zero_shot" : "/inference_cross_lingual";
  return { path, form, pcm: true, voice: file.name };
}

async function generate() {
  if (current) return;
  showError(""); showWarning(""); showUnderstood(null);
  const streaming = $("streaming").checked;
  const controller = new AbortController();
  current = { controller, sources: [] };
  $("generate").disabled = true; $("stop").disabled = false;
  $("stats").textContent = t("generating");
  const started = performance.now();
  try {
    if (streaming) context();
    const req = await buildRequest(streaming);
    const sent = performance.now();
    const response = req.form
      ? await api(req.path, { method: "POST", body: req.form, signal: controller.signal })
      : await jsonPost(req.path, req.body, controller.signal);
    const warning = response.headers.get("X-Parrot-Warning");
    if (warning) showWarning(warning);
    showUnderstood(response.headers.get("X-Parrot-Instruction"));
    const rate = Number(response.headers.get("X-Parrot-Sample-Rate")) || SAMPLE_RATE;
    const rawPcm = streaming || req.pcm;
    const result = rawPcm
      ? await receivePcm(response, rate, streaming, sent)
      : await receiveFile(response, sent);
    const done = performance.now();
    const stats = {
      ttfa: (result.firstAudio - sent) / 1000,
      seconds: result.seconds,
      total: (done - sent) / 1000,
      rtf: result.seconds > 0 ? (done - sent) / 1000 / result.seconds : NaN,
      prep: (sent - started) / 1000,
      streaming,
    };
    lastStats = stats;
    renderStats(true);
    const url = URL.createObjectURL(result.wav);
    const player = $("player");
    player.src = url;
    if (!streaming) player.play().catch(() => {});
    const download = $("download");
    download.href = url; download.classList.remove("disabled");
    addHistory({ url, mode, voice: req.voice, text: $(`${mode}-text`).value.trim(), stats, warning });
  } catch (err) {
    $("stats").textContent = "";
    if (err && err.name === "AbortError") $("stats").textContent = t("stopped");
    else report(err);
  } finally {
    current = null;
    $("generate").disabled = false; $("stop").disabled = true;
  }
}

/** Read raw int16 PCM; when ``play``, schedule each piece on the Web Audio clock as it arrives. */
async function receivePcm(response, rate, play, sent) {
  const reader = response.body.getReader();
  const pieces = [];
  let carry = null, total = 0, firstAudio = null, next = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    let bytes = value;
    if (carry) { bytes = new Uint8Array(carry.length + value.length); bytes.set(carry); bytes.set(value, carry.length); carry = null; }
    const even = bytes.length - (bytes.length % 2);
    if (even < bytes.length) carry = bytes.slice(even);
    if (!even) continue;
    const samples = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + even));
    pieces.push(samples); total += samples.length;
    if (firstAudio === null) firstAudio = performance.now();
    if (play) {
      const ctx = context();
      const buffer = ctx.createBuffer(1, samples.length, rate);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
      const source = ctx.createBufferSource();
      source.buffer = buffer; source.connect(ctx.destination);
      next = Math.max(next, ctx.currentTime + 0.05);
      source.start(next); next += buffer.duration;
      if (current) current.sources.push(source);
    }
  }
  const pcm = new Int16Array(total);
  let at = 0;
  for (const p of pieces) { pcm.set(p, at); at += p.length; }
  return { wav: wavBlob(pcm, rate), seconds: total / rate, firstAudio: firstAudio ?? performance.now() };
}

/** Read a whole WAV file (first audio = when it is complete and can play). */
async function receiveFile(response) {
  const data = new Uint8Array(await response.arrayBuffer());
  const seconds = wavSeconds(data);
  return { wav: new Blob([data], { type: "audio/wav" }), seconds, firstAudio: performance.now() };
}

function wavSeconds(data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let rate = SAMPLE_RATE, block = 2, pos = 12;
  while (pos + 8 <= data.length) {
    const id = String.fromCharCode(...data.subarray(pos, pos + 4));
    const size = view.getUint32(pos + 4, true);
    if (id === "fmt ") { rate = view.getUint32(pos + 12, true); block = view.getUint16(pos + 20, true) || 2; }
    if (id === "data") return (data.length - pos - 8) / block / rate;
    pos += 8 + size + (size % 2);
  }
  return (data.length - 44) / 2 / SAMPLE_RATE;
}

function wavBlob(pcm, rate) {
  const header = new DataView(new ArrayBuffer(44));
  const text = (at, s) => { for (let i = 0; i < s.length; i++) header.setUint8(at + i, s.charCodeAt(i)); };
  text(0, "RIFF"); header.setUint32(4, 36 + pcm.byteLength, true); text(8, "WAVE");
  text(12, "fmt "); header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, pcm.byteLength, true);
  return new Blob([header, pcm], { type: "audio/wav" });
}

function formatStats(s) {
  if (!s) return "";
  return `${t("ttfa")} ${s.ttfa.toFixed(2)} s · ${t("rtf")} ${isFinite(s.rtf) ? s.rtf.toFixed(2) : "–"} · ` +
    `${t("audioLen")} ${s.seconds.toFixed(1)} s · ${t("total")} ${s.total.toFixed(1)} s`;
}

function renderStats(force = false) {
  const box = $("stats");
  if (!lastStats || (current && !force)) return;
  box.textContent = formatStats(lastStats);
  box.dataset.ttfa = lastStats.ttfa.toFixed(3);
  box.dataset.rtf = lastStats.rtf.toFixed(3);
  box.dataset.total = lastStats.total.toFixed(3);
}

function stop() {
  if (!current) return;
  current.controller.abort();
  for (const source of current.sources) { try { source.stop(); } catch (_) { /* not started */ } }
}

$("generate").addEventListener("click", generate);
$("stop").addEventListener("click", stop);

// -- history -----------------------------------------------------------------------------------------

const MODE_KEYS = { pretrained: "tabPretrained", clone: "tabClone", cross: "tabCross", instruct: "tabInstruct" };

function addHistory(entry) {
  const li = document.createElement("li");
  const head = document.createElement("div");
  head.className = "history-head";
  head.textContent = `${new Date().toLocaleTimeString()} · ${t(MODE_KEYS[entry.mode])} · ${entry.voice}`;
  const text = document.createElement("div");
  text.className = "history-text"; text.textContent = entry.text;
  const stats = document.createElement("div");
  stats.className = "history-stats"; stats.textContent = formatStats(entry.stats);
  const audio = document.createElement("audio");
  audio.controls = true; audio.src = entry.url; audio.preload = "none";
  const dl = Object.assign(document.createElement("a"), { href: entry.url, download: "parrot.wav", textContent: "⤓ wav" });
  dl.className = "button small";
  li.append(head, text, stats, audio, dl);
  const list = $("history");
  list.prepend(li);
  while (list.children.length > 20) list.lastChild.remove();
  $("history-empty").classList.add("hidden");
}

// -- voice chat (WebSocket /v1/realtime: microphone PCM in, transcript, answer text and PCM out) -------

const chat = { ws: null, mic: null, source: null, processor: null, sources: [], next: 0, bot: null,
  state: "idle", stoppedAt: null, firstAudio: false, reply: null, cut: new Set() };
const CHAT_STATES = { idle: "", connecting: "chatConnecting", listening: "chatListening", hearing: "chatHearing",
  thinking: "chatThinking", speaking: "chatSpeaking", closed: "chatClosed" };

function setChatStatus(state) {
  chat.state = state;
  const el = $("chat-status");
  el.dataset.state = state;
  el.textContent = CHAT_STATES[state] ? t(CHAT_STATES[state]) : "";
}

function chatUrl() {
  const url = new URL("/v1/realtime", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const key = $("api-key").value.trim();
  if (key) url.searchParams.set("api_key", key);
  return url.toString();
}

function chatSend(message) {
  if (chat.ws && chat.ws.readyState === WebSocket.OPEN) chat.ws.send(JSON.stringify(message));
}

function toBase64(int16) {
  const bytes = new Uint8Array(int16.buffer, int16.byteOffset, int16.byteLength);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Int16Array(bytes.buffer, 0, bytes.length >> 1);
}

function chatLine(role, text) {
  const li = document.createElement("li");
  li.className = role; li.textContent = text;
  $("chat-log").append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

/** Barge-in: stop whatever answer audio is playing or scheduled, at once. */
function stopChatPlayback() {
  for (const source of chat.sources) { try { source.stop(); } catch (_) { /* not started */ } }
  chat.sources = []; chat.next = 0;
}

/** Barge-in, the cancel button or a typed question over the answer: stop its playback, show only the
 * phrases that had begun playing, and tell the server how much was heard so the conversation remembers that. */
function interruptReply() {
  const r = chat.reply, now = context().currentTime, playing = chat.next > now;
  stopChatPlayback();
  if (!r || chat.cut.has(r.id) || (r.done && !playing)) return;
  chat.cut.add(r.id);
  const heard = r.chunks.reduce((sum, c) => sum + Math.min(Math.max(now - c.at, 0), c.duration), 0);
  r.li.textContent = r.phrases.filter((p) => p.at < now).map((p) => p.text).join(" ");
  r.li.classList.add("interrupted");
  if (r.chunks.length) {
    chatSend({ type: "conversation.item.truncate", item_id: r.id, content_index: 0, audio_end_ms: Math.round(heard * 1000) });
  }
}

/** Schedules ``samples`` after what is already queued; returns when they start and how long they last. */
function playChatPcm(samples) {
  const ctx = context();
  const buffer = ctx.createBuffer(1, samples.length, SAMPLE_RATE);
  const channel = buffer.getChannelData(0);
  for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
  const source = ctx.createBufferSource();
  source.buffer = buffer; source.connect(ctx.destination);
  chat.next = Math.max(chat.next, ctx.currentTime + 0.03);
  const at = chat.next;
  source.start(at); chat.next += buffer.duration;
  chat.sources.push(source);
  source.onended = () => {
    chat.sources = chat.sources.filter((s) => s !== source);
    if (!chat.sources.length && chat.state === "speaking") setChatStatus("listening");
  };
  return { at, duration: buffer.duration };
}

function onChatEvent(event) {
  const msg = JSON.parse(event.data);
  const log = $("chat-log");
  switch (msg.type) {
    case "session.created": setChatStatus("listening"); break;
    case "input_audio_buffer.speech_started":
      interruptReply();  // the user talks over the answer: silence it now (the server cancels it too)
      setChatStatus("hearing"); break;
    case "input_audio_buffer.speech_stopped":
      chat.stoppedAt = performance.now(); chat.firstAudio = false;
      setChatStatus("thinking"); break;
    case "conversation.item.input_audio_transcription.completed": chatLine("user", msg.transcript); break;
    case "response.created":
      chat.bot = chatLine("bot", ""); chat.bot.dataset.id = msg.response.id;
      chat.reply = { id: msg.response.id, li: chat.bot, phrases: [], chunks: [], phrase: null, done: false };
      break;
    case "response.text.delta":
      if (chat.bot && !chat.cut.has(msg.response_id)) {
        chat.bot.textContent += msg.delta; chat.bot.scrollIntoView({ block: "nearest" });
      }
      break;
    case "response.audio_transcript.delta":
      if (chat.reply && chat.reply.id === msg.response_id) chat.reply.phrase = msg.delta;
      break;
    case "response.audio.delta": {
      if (chat.cut.has(msg.response_id)) break;  // already in flight when the user interrupted it
      const chunk = playChatPcm(fromBase64(msg.delta)), r = chat.reply;
      if (r && r.id === msg.response_id) {
        r.chunks.push(chunk);
        if (r.phrase !== null) { r.phrases.push({ text: r.phrase, at: chunk.at }); r.phrase = null; }
      }
      if (!chat.firstAudio && chat.stoppedAt !== null) {
        chat.firstAudio = true;
        $("chat-stats").dataset.firstAudio = ((performance.now() - chat.stoppedAt) / 1000).toFixed(3);
      }
      log.dataset.audioChunks = String(Number(log.dataset.audioChunks || 0) + 1);
      if (chat.state !== "hearing") setChatStatus("speaking");
      break;
    }
    case "response.done": {
      const r = msg.response, bot = log.querySelector(`li.bot[data-id="${r.id}"]`);
      if (chat.reply && chat.reply.id === r.id) chat.reply.done = true;
      if (bot) {
        bot.classList.add(r.status);
        if (r.status === "cancelled") bot.classList.add("interrupted");
        if (!bot.textContent && r.output_text && !chat.cut.has(r.id)) bot.textContent = r.output_text;
      }
      if (r.status === "completed" && r.timings) {
        const s = r.timings, client = $("chat-stats").dataset.firstAudio;
        $("chat-stats").dataset.serverFirstAudio = String(s.first_audio ?? "");
        $("chat-stats").textContent = `${t("chatFirstAudio")} ${client ? Number(client).toFixed(2) : "–"} s ` +
          `(${t("chatServerFirstAudio")} ${(s.first_audio ?? 0).toFixed(2)} s) · ` +
          `${t("chatWps")} ${(s.words_per_second ?? 0).toFixed(1)} · ${t("total")} ${(s.total ?? 0).toFixed(1)} s`;
      }
      log.dataset.responses = String(Number(log.dataset.responses || 0) + 1);
      if (chat.state === "thinking") setChatStatus("listening");
      break;
    }
    case "error": showError(msg.error && msg.error.message); break;
    default: break;
  }
}

async function startChat() {
  if (chat.ws) return;
  showError("");
  setChatStatus("connecting");
  const ctx = context();
  try {
    chat.mic = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (err) {
    setChatStatus("idle");
    showError(t("micError", { msg: err.message || String(err) }));
    return;
  }
  const ws = new WebSocket(chatUrl());
  chat.ws = ws;
  ws.onmessage = onChatEvent;
  ws.onerror = () => showError(t("networkError", { msg: "WebSocket" }));
  ws.onclose = () => { if (chat.ws === ws) endChat("closed"); };
  ws.onopen = () => {
    const session = { voice: $("chat-voice").value, input_sample_rate: ctx.sampleRate };
    const instructions = $("chat-instructions").value.trim();
    if (instructions) session.instructions = instructions;
    chatSend({ type: "session.update", session });
    // Microphone -> 16-bit PCM at the page's audio rate, about 85 ms per message.
    chat.source = ctx.createMediaStreamSource(chat.mic);
    chat.processor = ctx.createScriptProcessor(2048, 1, 1);
    chat.processor.onaudioprocess = (e) => {
      const input = e.inputBuffer.getChannelData(0);
      const pcm = new Int16Array(input.length);
      for (let i = 0; i < input.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(input[i] * 32768)));
      chatSend({ type: "input_audio_buffer.append", audio: toBase64(pcm) });
    };
    const mute = ctx.createGain(); mute.gain.value = 0;  // the processor must reach the output to run
    chat.source.connect(chat.processor); chat.processor.connect(mute); mute.connect(ctx.destination);
  };
  $("chat-start").disabled = true; $("chat-end").disabled = false; $("chat-cancel").disabled = false;
}

function endChat(state = "idle") {
  const ws = chat.ws;
  chat.ws = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
  if (chat.processor) { chat.processor.disconnect(); chat.processor.onaudioprocess = null; chat.processor = null; }
  if (chat.source) { chat.source.disconnect(); chat.source = null; }
  if (chat.mic) { chat.mic.getTracks().forEach((track) => track.stop()); chat.mic = null; }
  stopChatPlayback();
  setChatStatus(state);
  $("chat-start").disabled = false; $("chat-end").disabled = true; $("chat-cancel").disabled = true;
}

function sendChatText() {
  const text = $("chat-text").value.trim();
  if (!text || !chat.ws) return;
  interruptReply();
  chatLine("user", text);
  chatSend({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
  chatSend({ type: "response.create" });
  chat.stoppedAt = performance.now(); chat.firstAudio = false;
  $("chat-text").value = "";
  setChatStatus("thinking");
}

// The embedded language model's runtime may still be compiling (first run): say so, and look again until it is done.
let chatRuntimeTimer = null;
async function checkChatRuntime() {
  clearTimeout(chatRuntimeTimer);
  let body;
  try { body = await (await api("/v1/audio/chat/status")).json(); } catch (err) { report(err); return; }
  const notice = $("chat-runtime"), ready = Boolean(body.ready);
  notice.classList.toggle("hidden", ready);
  notice.textContent = ready ? "" : `${t("chatNotReady")}: ${body.runtime ? body.runtime.message : ""}`;
  if (!chat.ws) for (const id of ["chat-start", "chat-send"]) $(id).disabled = !ready;
  if (!ready && body.runtime && body.runtime.state === "building" && mode === "chat") {
    chatRuntimeTimer = setTimeout(checkChatRuntime, 5000);
  }
}

$("chat-start").addEventListener("click", startChat);
$("chat-end").addEventListener("click", () => endChat());
$("chat-cancel").addEventListener("click", () => { chatSend({ type: "response.cancel" }); interruptReply(); });
$("chat-send").addEventListener("click", sendChatText);
$("chat-text").addEventListener("keydown", (e) => { if (e.key === "Enter") sendChatText(); });
$("chat-voice").addEventListener("change", () => chatSend({ type: "session.update", session: { voice: $("chat-voice").value } }));

// -- start -------------------------------------------------------------------------------------------

$("api-key").value = localStorage.getItem("parrot.apiKey") || "";
$("api-key").addEventListener("change", () => { localStorage.setItem("parrot.apiKey", $("api-key").value.trim()); loadVoices(); });
$("lang-toggle").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("parrot.lang", lang);
  applyLanguage();
});
for (const id of ["pretrained-text", "clone-text", "cross-text", "instruct-text"]) {
  $(id).addEventListener("input", () => { $(id).dataset.auto = "0"; });
}
applyLanguage();
loadVoices();
resumeTrainingView();
resumeBookView();
