"""``nnzoo app``: every action answers what the library answers, bad input gets one line, the server survives its
own faults, and a real browser drives the page (pronounce, write an acrostic, tag the apple, an over-long word)."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nnzoo
from conftest import ARTIFACTS, console_errors, needs_chromium
from nnzoo.app import Playground, create_app
from nnzoo.app.playground import MAX_TEXT
from nnzoo.app.server import MAX_BODY, serving
from nnzoo.errors import UserError

TestClient = pytest.importorskip("starlette.testclient").TestClient  # the app extra; make setup installs it

MODELS = ["g2p", "translate/transformer-zh", "charlm", "tagging/apple", "tagging/apple-mlp", "classify-images", "gan",
          "denoise", "segment", "forecast/sunspots"]  # fmt: skip


@pytest.fixture(scope="module")
def playground() -> Playground:
    return Playground(MODELS, device="cpu")


@pytest.fixture(scope="module")
def client(playground):
    return TestClient(create_app(playground))


def ask(client, action: str, status: int = 200, **arguments):
    response = client.post(f"/api/{action}", json=arguments)
    assert response.status_code == status, response.text
    return response.json()


def decoded(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.partition(",")[2]))))


def test_the_catalogue_has_a_tab_per_task_given(client):
    catalog = ask(client, "catalog")
    assert list(catalog["tabs"]) == ["pronounce", "translate", "write", "tag", "draw", "denoise", "segment", "forecast"]
    assert [m["name"] for m in catalog["tabs"]["pronounce"]] == nnzoo.list_pretrained("g2p")
    assert {m["task"] for m in catalog["tabs"]["draw"]} == {"classify-images", "gan"}
    assert catalog["version"] == nnzoo.__version__


def test_pronounce_answers_what_the_library_answers_with_the_attention_of_the_best(client):
    answer = ask(client, "pronounce", text="nnzoo apple", nbest=3)
    assert [w["word"] for w in answer["words"]] == ["nnzoo", "apple"]
    for word in answer["words"]:
        for model in word["models"]:
            [expected] = nnzoo.open(model["name"]).predict([word["word"]], nbest=3)
            assert [o["text"] for o in model["outputs"]] == [e.text for e in expected]
            scores = [o["log_prob"] for o in model["outputs"]]
            assert scores == sorted(scores, reverse=True) and scores[0] < 0
            attention = model["attention"]
            if model["name"].split("/")[1].startswith("gru-seq2seq"):
                assert attention is None  # the context vector: nothing to draw
                continue
            weights = np.array(attention["weights"])
            assert attention["inputs"] == list(word["word"])
            assert attention["outputs"] == [*expected[0].symbols, "</s>"]
            assert weights.shape == (len(attention["outputs"]), len(attention["inputs"]))
            assert np.allclose(weights.sum(1), 1, atol=0.01)


def test_translate_gives_the_translation_and_its_attention(client):
    answer = ask(client, "translate", model="translate/transformer-zh", text="Cannot open the file.")
    [expected] = nnzoo.open("translate/transformer-zh").predict(["Cannot open the file."])
    assert answer["outputs"][0]["text"] == expected[0].text
    weights = np.array(answer["attention"]["weights"])
    assert weights.shape == (len(answer["attention"]["outputs"]), len(answer["attention"]["inputs"]))


def test_write_an_acrostic_and_a_continuation(client):
    poem = ask(client, "write", model="charlm/poems", prompt="", poem="7x4", acrostic="春夏秋冬")["text"]
    lines = [line for line in poem.splitlines() if line]
    assert "".join(line[0] for line in poem.replace("，", "\n").splitlines() if line) == "春夏秋冬"
    assert len(lines) == 2  # two couplets of two 7-character lines
    text = ask(client, "write", model="charlm/transformer", prompt="ROMEO:", length=50, seed=3)["text"]
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 50
    assert text == nnzoo.open("charlm/transformer").predict(["ROMEO:"], length=50, seed=3)[0]
    error = ask(client, "write", 400, model="charlm/poems", poem="7x4", acrostic="春夏秋")["error"]
    assert "one Chinese head character per line (4)" in error


def test_tag_the_apple_the_bilstm_reads_the_context_the_mlp_cannot(client):
    company = ask(client, "tag", sentence="Apple is a great company", corpus="apple")["models"]
    fruit = ask(client, "tag", sentence="I like eating apple")["models"]
    assert [m["name"] for m in company] == [m["name"] for m in fruit] == ["tagging/apple", "tagging/apple-mlp"]
    by_name = {m["name"]: m["words"] for m in company}
    assert by_name["tagging/apple"][0] == {"word": "apple", "tag": "COMPANY", "known": True}
    mlp_tags = {m["name"]: m["words"] for m in fruit}["tagging/apple-mlp"][-1]["tag"], by_name["tagging/apple-mlp"][0]
    assert mlp_tags[0] == mlp_tags[1]["tag"]  # one word, one tag, whatever the sentence


def test_classify_a_drawing_and_walk_the_gans_latent_space(client):
    run = nnzoo.open("classify-images")
    image = run.data["test"].images[0, 0]
    answer = ask(client, "classify", model="classify-images/cnn", pixels=image.tolist())
    [expected] = run.predict([image])
    assert answer["label"] == expected.label
    assert abs(sum(p for _, p in answer["probabilities"]) - 1) < 1e-3
    walk = ask(client, "latent_walk", model="gan/dcgan", seed=1, steps=5)["images"]
    pictures = [decoded(src) for src in walk]
    assert len(pictures) == 5 and pictures[0].shape == (28, 28)
    assert np.abs(pictures[0].astype(int) - pictures[-1]).mean() > 5  # the walk goes somewhere


def test_denoise_and_segment_test_images_and_an_upload(client):
    examples = ask(client, "examples", model="denoise/unet", task="denoise")["images"]
    assert len(examples) == 12
    answer = ask(client, "denoise", model="denoise/unet", example=3)
    noisy, output, truth = (decoded(answer[key]).astype(float) for key in ("input", "output", "truth"))
    assert np.abs(output - truth).mean() < 0.5 * np.abs(noisy - truth).mean()
    scene = ask(client, "segment", model="segment/unet", example=0)
    assert scene["classes"][0] == ["background", "#000000"]
    upload = ask(client, "segment", model="segment/unet", image=scene["input"])  # the same scene, as a PNG file
    assert "truth" not in upload and "input" not in upload
    agreement = (decoded(upload["output"]) == decoded(scene["output"])).all(-1).mean()
    assert agreement > 0.95, agreement
    error = ask(client, "segment", 400, model="segment/unet", image="data:image/png;base64,bm90IGFuIGltYWdl")["error"]
    assert error.startswith("cannot read the uploaded file as an image") and "/tmp" not in error


def test_forecast_beside_arima_and_what_happened(client):
    answer = ask(client, "forecast", model="forecast/sunspots", horizon=8)
    assert len(answer["forecast"]) == len(answer["baseline"]) == len(answer["actual"]) == 8
    assert answer["baseline_name"] == "ARIMA(9, 0, 0)"
    run = nnzoo.open("forecast/sunspots")
    assert run.data["test"]  # reads the series
    origin = run.task.info["val_end"]
    assert answer["forecast"] == run.predict([run.task.series.values[:origin]], steps=8)[0]
    assert answer["actual"] == run.task.series.values[origin : origin + 8].tolist()


@pytest.mark.parametrize(
    ("action", "arguments", "status", "message"),
    [
        ("pronounce", {"text": "a" * 80}, 400, "has 80 symbols; at most 64 are accepted"),
        ("pronounce", {"text": "héllo"}, 400, "contains 'é', not in the training alphabet"),
        ("pronounce", {"txt": "a"}, 400, "pronounce: unknown txt; it takes text, nbest"),
        ("pronounce", {}, 400, "pronounce: missing text; it takes text, nbest"),
        ("pronounce", {"text": "a", "nbest": "three"}, 400, "nbest must be a whole number from 1 to 10"),
        ("tag", {"sentence": "x " * MAX_TEXT}, 400, f"at most {MAX_TEXT} are accepted"),
        ("tag", {"sentence": "   "}, 400, "sentence is empty"),
        (
            "tag",
            {"sentence": "a", "corpus": "x"},
            400,
            "no tagging model here was trained on 'x'; the corpora here: apple",
        ),
        (
            "translate",
            {"model": "g2p/lstm-attention", "text": "a"},
            400,
            "no translate model named 'g2p/lstm-attention'",
        ),
        ("translate", {"model": ["translate"], "text": "a"}, 400, "no translate model named ['translate']"),
        ("classify", {"model": "classify-images/cnn", "pixels": [[2]]}, 400, "pixels must be 28 rows of 28 numbers"),
        ("classify", {"model": "classify-images/cnn", "pixels": [["a"]]}, 400, "pixels must be 28 rows of 28 numbers"),
        ("write", {"model": "charlm/poems", "poem": "9x9"}, 400, "9x9"),
        ("latent_walk", {"model": "gan/dcgan", "steps": True}, 400, "steps must be a whole number from 2 to 16"),
        ("denoise", {"model": "denoise/unet"}, 400, "give a test image's number (example) or an uploaded image"),
        ("forecast", {"model": "forecast/sunspots", "horizon": 100}, 400, "horizon must be from 1 to 20"),
        ("shutdown", {}, 404, "no action 'shutdown'"),
    ],
)
def test_bad_input_gets_one_line_saying_what_is_accepted(client, action, arguments, status, message):
    error = ask(client, action, status, **arguments)["error"]
    assert message in error and "\n" not in error


def test_requests_that_are_not_json_objects_or_too_large(client):
    response = client.post("/api/tag", content=b'{"sentence": ')
    assert response.status_code == 400 and response.json()["error"].startswith("the request is not JSON")
    response = client.post("/api/tag", content=b'["apple"]')
    assert response.status_code == 400 and "a JSON object" in response.json()["error"]
    response = client.post("/api/tag", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert client.get("/api/tag").status_code == 405  # actions are posted


def test_a_fault_is_a_500_with_one_line_and_the_server_goes_on(client, playground, monkeypatch):
    def broken(sentence: str):
        raise RuntimeError("the model file is damaged")

    monkeypatch.setattr(playground, "tag", broken)
    error = ask(client, "tag", 500, sentence="apple")["error"]
    assert error == "internal error in tag: RuntimeError: the model file is damaged"
    monkeypatch.undo()
    assert ask(client, "tag", sentence="apple")["models"]


def test_the_page_loads_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    static = Path(nnzoo.__file__).parent / "app" / "static"
    for path in static.iterdir():
        text = path.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not an address
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path.name
        assert client.get(f"/static/{path.name}").status_code == 200


def test_a_run_of_ones_own_is_shown_beside_the_shipped_models(tmp_path):
    mine = nnzoo.train(
        "tagging", model="mlp", overrides=["train.max_steps=3"], run_dir=tmp_path / "mine", progress=False
    )
    playground = Playground(["tagging/apple"], runs=[mine.path], device="cpu")
    [shipped, own] = playground.catalog()["tabs"]["tag"]
    assert (shipped["name"], own["name"], own["summary"]) == ("tagging/apple", str(mine.path), "your run: mlp")
    columns = playground.tag("I like eating apple")["models"]
    assert [c["words"] for c in columns][1] == [
        {"word": w.word, "tag": w.tag, "known": w.known} for w in mine.predict(["I like eating apple"])[0]
    ]


def test_the_playground_checks_what_it_is_started_with(cli):
    with pytest.raises(UserError, match="'nope' is not a shipped model or a task with one"):
        Playground(["nope"])
    with pytest.raises(UserError, match="none of the models given belongs to a tab's task"):
        Playground(["regression"])
    code, _, err = cli("app", "--port", "0")
    assert code == 2 and "--port must be from 1 to 65535" in err


# --- the real server, in a real browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    """``nnzoo app`` in its own process on a free local port, stopped afterwards."""
    with serving(MODELS) as served:
        yield served.url


# The docs' screenshots are taken here: NNZOO_APP_SCREENSHOTS=docs/images pytest tests/test_app.py -k browser
SCREENSHOTS = Path(os.environ.get("NNZOO_APP_SCREENSHOTS", ARTIFACTS / "app"))


@needs_chromium
@pytest.mark.slow
def test_a_real_browser_drives_every_tab(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.set_window_size(1200, 1000)  # the docs show the screenshots
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def tab(name: str):
        browser.find_element(By.CSS_SELECTOR, f'#tabs button[data-tab="{name}"]').click()
        return browser.find_element(By.ID, name)

    def submit(form, fields: dict[str, str] = {}):  # noqa: B006 - read only
        for name, value in fields.items():
            field = form.find_element(By.NAME, name)
            if field.tag_name == "select":
                Select(field).select_by_value(value)
            else:
                field.clear()
                field.send_keys(value)
        form.find_element(By.CSS_SELECTOR, "button:not([type=button])").click()

    def shot(name: str):
        assert browser.save_screenshot(str(SCREENSHOTS / f"app-{name}.png"))

    browser.get(server)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#tabs button"))
    tabs = [b.get_attribute("data-tab") for b in browser.find_elements(By.CSS_SELECTOR, "#tabs button")]
    assert tabs == ["pronounce", "translate", "write", "tag", "draw", "denoise", "segment", "forecast"]

    pronounce = tab("pronounce")
    submit(pronounce.find_element(By.TAG_NAME, "form"), {"text": "nnzoo"})
    wait.until(lambda b: pronounce.find_elements(By.CSS_SELECTOR, ".phonemes"))
    [expected] = nnzoo.open("g2p").predict(["nnzoo"])
    assert pronounce.find_element(By.CSS_SELECTOR, ".phonemes").text == expected[0].text
    assert pronounce.find_elements(By.CSS_SELECTOR, "table.heat td")  # the attention map is drawn
    shot("pronounce")

    translate = tab("translate")
    submit(translate.find_element(By.TAG_NAME, "form"), {"text": "Cannot open the file."})
    wait.until(lambda b: translate.find_elements(By.CSS_SELECTOR, ".translation"))
    shot("translate")

    write = tab("write")
    submit(write.find_element(By.TAG_NAME, "form"), {"model": "charlm/poems"})  # a poem model: 7x4, 春夏秋冬
    result = write.find_element(By.CSS_SELECTOR, ".result")
    wait.until(lambda b: result.text)
    heads = "".join(line[0] for line in result.text.replace("，", "\n").splitlines() if line)
    assert heads == "春夏秋冬", result.text
    shot("write")

    tagged = tab("tag")
    submit(tagged.find_element(By.TAG_NAME, "form"), {"sentence": "Apple is a great company"})
    wait.until(lambda b: tagged.find_elements(By.CSS_SELECTOR, ".result td"))
    header = [th.text for th in tagged.find_elements(By.CSS_SELECTOR, ".result th")]
    first_row = [td.text for td in tagged.find_elements(By.CSS_SELECTOR, ".result tbody tr:first-child td")]
    assert dict(zip(header, first_row))["tagging/apple"] == "COMPANY"
    shot("tag")

    draw = tab("draw")
    sketch = browser.find_element(By.ID, "sketch")
    strokes = ActionChains(browser).move_to_element_with_offset(sketch, -60, -90).click_and_hold()
    for dx, dy in ((120, 0), (0, 180), (-120, 0), (0, -180)):  # a tall box: a dress, a coat or a bag
        strokes = strokes.move_by_offset(dx, dy)
    strokes.release().perform()
    submit(draw.find_element(By.CSS_SELECTOR, 'form[data-action="classify"]'))
    submit(draw.find_element(By.CSS_SELECTOR, 'form[data-action="latent_walk"]'))
    wait.until(lambda b: len(draw.find_elements(By.CSS_SELECTOR, ".bar")) == 10)
    wait.until(lambda b: len(draw.find_elements(By.CSS_SELECTOR, ".result img")) == 8)
    shot("draw")

    for name in ("denoise", "segment"):
        pane = tab(name)
        wait.until(lambda b, pane=pane: pane.find_elements(By.CSS_SELECTOR, "button.example"))
        pane.find_elements(By.CSS_SELECTOR, "button.example")[1].click()
        wait.until(lambda b, pane=pane: len(pane.find_elements(By.CSS_SELECTOR, ".result img")) == 3)
        shot(name)

    forecast = tab("forecast")
    submit(forecast.find_element(By.TAG_NAME, "form"))
    wait.until(lambda b: forecast.find_elements(By.CSS_SELECTOR, ".result td"))
    shot("forecast")
    assert not console_errors(browser)

    pronounce = tab("pronounce")  # an over-long word: the task's one line, in the page
    submit(pronounce.find_element(By.TAG_NAME, "form"), {"text": "a" * 80})
    error = pronounce.find_element(By.CSS_SELECTOR, ".error")
    wait.until(lambda b: error.text)
    assert error.text.endswith("has 80 symbols; at most 64 are accepted")
